using Llama4Cluster.Cli.Ui;
using Llama4Cluster.Kernels.Config;
using Llama4Cluster.Kernels.Engine;
using Llama4Cluster.Kernels.Runtime;

namespace Llama4Cluster.Cli.Commands;

/// <summary>The options every model-running command shares: --model, --dtype, --device, --threads.</summary>
internal sealed record EngineArguments(string ModelDirectory, LocalEngineOptions Options, Llama4TextConfig Config)
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
        // Read the config first (cheap) so token ids are checked before any weights load.
        return new EngineArguments(model, options, Llama4ConfigReader.Load(model));
    }

    /// <summary>Throws a usage error naming <paramref name="option"/> for ids outside the vocabulary.</summary>
    public void CheckTokens(IEnumerable<int> tokens, string option)
    {
        foreach (int t in tokens)
            if (t < 0 || t >= Config.VocabSize)
                throw new UsageException($"--{option}: id {t} is outside the vocabulary (0..{Config.VocabSize - 1})");
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
