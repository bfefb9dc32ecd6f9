namespace Llama4Cluster.Core.Generation;

/// <summary>
/// Random prompt token ids for benchmarks, uniform over <c>[low, vocabulary)</c> but never the image patch token of a
/// checkpoint with a vision tower: a <c>&lt;|patch|&gt;</c> in a prompt without images is refused as a bad request (its
/// features would have no image to come from), so a random prompt that drew one would fail the run.
/// </summary>
public static class RandomTokens
{
    /// <summary>One id from <paramref name="random"/>, drawn again while it is <paramref name="excluded"/>.</summary>
    public static int Next(Random random, int low, int vocabulary, int? excluded)
    {
        ArgumentNullException.ThrowIfNull(random);
        if (vocabulary - low < 2 && excluded is { } only && only >= low && only < vocabulary)
            throw new ArgumentException($"the ids {low}..{vocabulary - 1} hold nothing but the excluded id {only}");
        while (true)
        {
            int id = random.Next(low, vocabulary);
            if (id != excluded) return id;
        }
    }

    /// <summary><paramref name="count"/> ids as <see cref="Next"/> draws them.</summary>
    public static int[] Prompt(Random random, int count, int low, int vocabulary, int? excluded)
    {
        var prompt = new int[count];
        for (int i = 0; i < count; i++) prompt[i] = Next(random, low, vocabulary, excluded);
        return prompt;
    }
}
