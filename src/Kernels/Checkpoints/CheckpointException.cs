namespace Llama4Cluster.Kernels.Checkpoints;

/// <summary>
/// A checkpoint file or tensor is missing, corrupt or does not match the model. The message always names
/// the file and, when one is known, the tensor, so that the broken piece of a multi-hundred-gigabyte
/// checkpoint can be found without a debugger. Derives from <see cref="IOException"/> because
/// <see cref="InvalidDataException"/> is sealed.
/// </summary>
public sealed class CheckpointException : IOException
{
    public CheckpointException(string file, string? tensor, string problem, Exception? innerException = null)
        : base(Format(file, tensor, problem), innerException)
    {
        File = file;
        Tensor = tensor;
    }

    /// <summary>The file at fault (a shard, the index or the config).</summary>
    public string File { get; }

    /// <summary>The tensor at fault as named in the file, or null when the file could not be read far enough to know one.</summary>
    public string? Tensor { get; }

    private static string Format(string file, string? tensor, string problem) =>
        tensor is null ? $"{file}: {problem}" : $"{file}: tensor '{tensor}': {problem}";
}
