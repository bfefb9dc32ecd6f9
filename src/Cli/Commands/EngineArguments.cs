using Llama4Cluster.Cli.Ui;
using Llama4Cluster.Kernels.Engine;
using Llama4Cluster.Kernels.Runtime;

namespace Llama4Cluster.Cli.Commands;

/// <summary>The options every model-running command shares: --model, --dtype, --device, --threads.</summary>
internal sealed record EngineArguments(string ModelDirectory, LocalEngineOptions Options)
{
    public static EngineArguments Parse(Arguments a)
    {
        string model = a.Required("model");
        if (!Directory.Exists(model))
            throw new UsageException($"--model: directory '{model}' does not exist");
        if (!File.Exists(Path.Combine(model, "config.json")))
            throw new UsageException($"--model: '{model}' has no config.json (expected a Hugging Face checkpoint directory)");
        LocalEngineOptions options;
        try
        {
            options = new LocalEngineOptions
            {
                ComputeDType = ComputeDType.Parse(a.Optional("dtype") ?? "float32"),
                Device = DeviceSpec.Parse(a.Optional("device") ?? "cpu"),
                Threads = a.Int("threads", 1, 1024),
            };
        }
        catch (ArgumentException e)
        {
            throw new UsageException(e.Message);
        }
        return new EngineArguments(model, options);
    }

    public LocalEngine Load()
    {
        return Terminal.WithProgress($"loading {ModelDirectory}", progress =>
            LocalEngine.Load(ModelDirectory, Options,
                new Progress(p => progress.Report((double)p.Done / p.Total)),
                warn: w => Console.Error.WriteLine("warning: " + w)));
    }

    private sealed class Progress(Action<Kernels.Model.LoadProgress> report) : IProgress<Kernels.Model.LoadProgress>
    {
        public void Report(Kernels.Model.LoadProgress value) => report(value);
    }
}
