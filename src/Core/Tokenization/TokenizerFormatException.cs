namespace Llama4Cluster.Core.Tokenization;

/// <summary>
/// A tokenizer file is missing or malformed. The message names the file and, where known, the line (tiktoken
/// <c>tokenizer.model</c>) or the JSON field (<c>tokenizer.json</c>, <c>tokenizer_config.json</c>) at fault.
/// </summary>
public sealed class TokenizerFormatException : Exception
{
    public TokenizerFormatException(string filePath, string message, Exception? innerException = null)
        : base($"{filePath}: {message}", innerException)
    {
        FilePath = filePath;
    }

    /// <summary>The file that could not be read.</summary>
    public string FilePath { get; }
}
