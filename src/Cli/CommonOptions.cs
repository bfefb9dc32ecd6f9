using Llama4Cluster.Cluster.Hosting;

namespace Llama4Cluster.Cli;

/// <summary>Options several commands share, declared once so that their spelling and help read the same everywhere.</summary>
internal static class CommonOptions
{
    public static readonly CommandLineOption Model =
        new("model", "DIR", "checkpoint directory in the Hugging Face layout (config.json + safetensors)");

    public static readonly CommandLineOption Json = CommandLineOption.Switch("json", "print one JSON object instead of tables");

    public static readonly CommandLineOption Threads = new("threads", "N", "torch threads (default: one per core)");

    public static readonly CommandLineOption Device = new("device", "cpu|cuda:N", "torch device (default cpu)");

    public static readonly CommandLineOption Quick = CommandLineOption.Switch("quick", "a short run: a smoke check, noisier figures");

    /// <summary>The compute dtype of the commands that run a model.</summary>
    public static readonly CommandLineOption DType =
        new("dtype", "auto|float32|bfloat16", "compute dtype (also fp32, bf16); auto follows the checkpoint (default auto)");

    public static readonly CommandLineOption BatchInvariant = CommandLineOption.Switch("batch-invariant",
        "bf16 kernels whose result for a sequence does not depend on the rest of its batch, nor on prefill versus decode");

    public static readonly CommandLineOption SiloAddresses = new("silo-addresses", "loopback|distinct",
        "silos on 127.0.0.1 (loopback, default) or each on its own 127.0.0.N, standing for hosts (distinct)");

    /// <summary>A gateway's model name and key, for the benchmarks that drive one.</summary>
    public static readonly CommandLineOption ServedModel = new("model", "NAME", "model name to request (default: the gateway's first)");

    public static readonly CommandLineOption ApiKey = new("api-key", "KEY", "bearer key the gateway expects");

    public static readonly CommandLineOption Url = new("url", "URL", "the gateway's base URL, e.g. http://localhost:8000");
}
