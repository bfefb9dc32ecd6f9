using TorchSharp;

namespace Llama4Cluster.Kernels.Runtime;

/// <summary>
/// Parses the runtime device setting (<c>cpu</c>, <c>cuda</c>, <c>cuda:N</c>) and checks that the
/// native backend this build carries can serve it. The backend is a build-time switch
/// (<c>-p:TorchBackend=cuda</c>); the device is chosen at run time.
/// </summary>
public static class DeviceSpec
{
    public static torch.Device Parse(string spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        string s = spec.Trim().ToLowerInvariant();
        if (s == "cpu") return torch.CPU;
        if (s == "cuda" || s.StartsWith("cuda:", StringComparison.Ordinal))
        {
            int index = 0;
            if (s.Length > 4 && !int.TryParse(s.AsSpan(5), out index))
                throw new ArgumentException($"device '{spec}': expected cuda:N with N a GPU index");
            if (!torch.cuda.is_available())
                throw new ArgumentException(
                    $"device '{spec}': CUDA is not available in this build or on this machine. " +
                    "Build with -p:TorchBackend=cuda (TorchSharp-cuda-linux) on a GPU host, or use --device cpu.");
            int count = torch.cuda.device_count();
            if (index < 0 || index >= count)
                throw new ArgumentException($"device '{spec}': this machine has {count} CUDA device(s)");
            return new torch.Device(DeviceType.CUDA, index);
        }
        throw new ArgumentException($"device '{spec}': expected cpu, cuda or cuda:N");
    }
}
