namespace Llama4Cluster.Core.Vision;

/// <summary>
/// Bytes that are not an image the server accepts: empty, not PNG/JPEG/WebP/GIF, truncated or corrupt, or larger than the
/// pixel limit. The message says which, and is safe to return to the client that sent the image.
/// </summary>
/// <remarks>
/// Derives from <see cref="Exception"/>, as <see cref="Tokenization.TokenizerFormatException"/> does:
/// <see cref="InvalidDataException"/>, the natural base, is sealed.
/// </remarks>
public sealed class InvalidImageException : Exception
{
    public InvalidImageException(string message, Exception? innerException = null)
        : base(message, innerException)
    {
    }
}
