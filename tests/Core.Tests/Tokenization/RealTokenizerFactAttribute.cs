namespace Llama4Cluster.Core.Tests.Tokenization;

/// <summary>
/// A fact that needs META's real <c>tokenizer.model</c> (200,000 ranks; not committed). It runs when the
/// environment variable <c>LLAMA4_TOKENIZER_MODEL</c> names that file (or a checkpoint directory holding it) and is
/// skipped, with the reason, otherwise.
/// </summary>
public sealed class RealTokenizerFactAttribute : FactAttribute
{
    public const string EnvironmentVariable = "LLAMA4_TOKENIZER_MODEL";

    public RealTokenizerFactAttribute()
    {
        var path = Environment.GetEnvironmentVariable(EnvironmentVariable);
        if (string.IsNullOrEmpty(path))
        {
            Skip = $"Set {EnvironmentVariable} to META's Llama 4 tokenizer.model (models/llama4/tokenizer.model in meta-llama/llama-models, or original/ of a Hub checkpoint) to run the golden-id test.";
        }
        else if (!File.Exists(path) && !Directory.Exists(path))
        {
            Skip = $"{EnvironmentVariable}={path} does not exist.";
        }
    }
}
