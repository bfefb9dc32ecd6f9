namespace Llama4Cluster.Cli.Commands;

internal static class BenchCommand
{
    public const string Usage = "bench kernels [--model DIR] [--quick]";

    public static int Run(Arguments a) => throw new UsageException("bench: not built yet");
}
