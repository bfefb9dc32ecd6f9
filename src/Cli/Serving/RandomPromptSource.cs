using Llama4Cluster.Core.Generation;

namespace Llama4Cluster.Cli.Serving;

/// <summary>
/// Prompts of random token ids, uniform in [0, vocabulary size), from one seeded generator: the same seed gives the
/// same prompts in the same order (vLLM's random dataset, without the detokenize/retokenize round trip: the ids go
/// to the server as they are, so every prompt has exactly the asked length). A vision checkpoint's image patch token
/// (<paramref name="excluded"/>) is never drawn: the server refuses it in a prompt without images.
/// </summary>
public sealed class RandomPromptSource
{
    private readonly Random _random;
    private readonly int? _excluded;

    public RandomPromptSource(int vocabularySize, int seed, int? excluded = null)
    {
        if (vocabularySize < 1 || (vocabularySize == 1 && excluded == 0))
            throw new ArgumentOutOfRangeException(nameof(vocabularySize), vocabularySize, "the vocabulary has at least one token to draw");
        VocabularySize = vocabularySize;
        _random = new Random(seed);
        _excluded = excluded;
    }

    public int VocabularySize { get; }

    public int[] Next(int length)
    {
        if (length < 1) throw new ArgumentOutOfRangeException(nameof(length), length, "a prompt has at least one token");
        var prompt = new int[length];
        for (int i = 0; i < length; i++) prompt[i] = RandomTokens.Next(_random, 0, VocabularySize, _excluded);
        return prompt;
    }
}
