namespace Llama4Cluster.Core.Vision;

/// <summary>
/// What an encoded image's header says, read without decoding pixels (<see cref="ImageDecoder.ReadHeader"/>): enough to
/// plan the canvas and count the image's tokens (<see cref="ImageCanvas.Plan"/>) before paying for a decode.
/// </summary>
public readonly record struct ImageHeader(ImageFormat Format, int Width, int Height)
{
    /// <summary>Width × height.</summary>
    public long Pixels => (long)Width * Height;
}
