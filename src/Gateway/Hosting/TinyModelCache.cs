using System.Diagnostics;
using System.Globalization;
using Llama4Cluster.Kernels.Checkpoints;
using Llama4Cluster.Core.Config;
using Llama4Cluster.Core.Tokenization;

namespace Llama4Cluster.Gateway.Hosting;

/// <summary>
/// The model the gateway serves when none is given: the tiny-scout checkpoint with its tokenizer and the tiny vision tower
/// (random weights, seed 0, bf16: the one <c>llama4 demo</c> creates, at the same place), written once into a cache directory. It is written into a
/// private staging directory and renamed into place, so the checkpoint directory either does not exist or is complete:
/// several gateways starting at once for the first time each write their own copy, one rename wins, the others reuse it.
/// </summary>
public static class TinyModelCache
{
    public const string Preset = "tiny-scout";

    /// <summary>The demo model's context: tiny-scout's config says 256 positions, too few for a chat that lists tools or
    /// carries a few turns, so the demo copy says 4,096. The value changes no arithmetic (the spec calls it informational:
    /// RoPE and its scaling do not read it), only the longest request the gateway accepts.</summary>
    public const int DemoContextLength = 4096;

    /// <summary><c>$LLAMA4_CACHE</c>, else <c>~/.cache/llama4cluster</c> (shared with <c>llama4 demo</c>).</summary>
    public static string DefaultCacheDirectory =>
        Environment.GetEnvironmentVariable("LLAMA4_CACHE") is { Length: > 0 } fromEnv
            ? fromEnv
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache", "llama4cluster");

    /// <summary>The checkpoint directory inside <paramref name="cacheDirectory"/>.</summary>
    public static string ModelDirectory(string cacheDirectory) => Path.Combine(cacheDirectory, "models", Preset);

    /// <summary>
    /// Returns the cached tiny model's directory, creating it first if needed; progress goes to <paramref name="progress"/>
    /// as plain lines (it may be redirected to a file).
    /// </summary>
    /// <exception cref="GatewayStartupException">The cache cannot be written, or holds an incomplete checkpoint not made here.</exception>
    public static string Ensure(string cacheDirectory, TextWriter progress)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(cacheDirectory);
        ArgumentNullException.ThrowIfNull(progress);
        string model = Path.GetFullPath(ModelDirectory(cacheDirectory));
        if (IsComplete(model))
        {
            if (!HasVision(model))
                progress.WriteLine($"the cached demo model in {model} was written before image support and has no vision tower: it serves text only " +
                    "(delete the directory to have one with the tiny vision tower written)");
            return model;
        }

        if (Directory.Exists(model))
            throw GatewayStartupException.Failed($"'{model}' exists but is not a complete checkpoint (config.json, *.safetensors, tokenizer): delete it and start again");

        string parent = Path.GetDirectoryName(model)!;
        RemoveAbandonedStaging(parent);
        string staging = Path.Combine(parent, string.Create(CultureInfo.InvariantCulture, $".{Preset}.{Environment.ProcessId}.{Guid.NewGuid():N}.partial"));
        try
        {
            Directory.CreateDirectory(staging);
            progress.WriteLine($"no --model given: creating the tiny demo model ({Preset}, random weights) in {model}");
            Write(staging, progress);
            try
            {
                Directory.Move(staging, model);
            }
            catch (IOException) when (IsComplete(model))
            {
                // Another gateway finished first; its copy is identical (same preset and seed).
                progress.WriteLine($"another process created {model} first; using it");
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw GatewayStartupException.Failed($"cannot create the tiny model in '{parent}': {e.Message} (choose another place with --cache-dir DIR)", e);
        }
        finally
        {
            TryDelete(staging);
        }
        return model;
    }

    private static bool HasVision(string directory)
    {
        try
        {
            return Llama4ConfigReader.LoadVision(directory) is not null;
        }
        catch (Exception e) when (e is IOException or InvalidDataException or UnauthorizedAccessException)
        {
            return false; // loading the model reports it
        }
    }

    /// <summary>True when <paramref name="directory"/> holds config.json, safetensors and a tokenizer.</summary>
    public static bool IsComplete(string directory) =>
        File.Exists(Path.Combine(directory, "config.json"))
        && Directory.EnumerateFiles(directory, "*.safetensors").Any()
        && Llama4Tokenizer.ExistsIn(directory);

    /// <summary>Writes the checkpoint as <c>llama4 create-tiny --preset tiny-scout --seed 0</c> does (the same weights and
    /// tokenizer), except for the context length (<see cref="DemoContextLength"/>): tokenizer files first, their ids into config.json.</summary>
    private static void Write(string directory, TextWriter progress)
    {
        var config = Llama4Presets.Get(Preset);
        var ids = TinyTokenizerWriter.Write(directory, config.VocabSize);
        config = config with
        {
            BosTokenId = ids.BeginOfText, EosTokenIds = ids.EosTokenIds.ToArray(), PadTokenId = ids.Pad, MaxPositionEmbeddings = DemoContextLength,
        };
        var image = new ImageTokenIds(ids.ImageStart, ids.ImageEnd, ids.Patch);
        var watch = Stopwatch.StartNew();
        int lastDecile = -1;
        var report = new LineProgress(fraction =>
        {
            // 100 % is the summary line below, with the parameter count: printed once.
            int decile = (int)Math.Floor(Math.Clamp(fraction, 0, 1) * 10);
            if (decile <= lastDecile || decile >= 10) return;
            lastDecile = decile;
            progress.WriteLine(string.Create(CultureInfo.InvariantCulture, $"writing {Preset}: {decile * 10}% ({watch.Elapsed.TotalSeconds:F1} s)"));
        });
        TinyCheckpointWriter.Write(directory, config, new TinyCheckpointOptions { Seed = 0, DType = SafetensorsDType.BF16, Vision = Llama4VisionConfig.Tiny },
            image, report);
        progress.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"writing {Preset}: 100% ({watch.Elapsed.TotalSeconds:F1} s, {config.TotalParameters:N0} parameters)"));
    }

    /// <summary>Deletes staging directories left by a process that was killed while writing (its id names no live process).</summary>
    private static void RemoveAbandonedStaging(string parent)
    {
        if (!Directory.Exists(parent)) return;
        foreach (var directory in Directory.EnumerateDirectories(parent, $".{Preset}.*.partial"))
        {
            var parts = Path.GetFileName(directory).Split('.');
            if (parts.Length == 5 && int.TryParse(parts[2], NumberStyles.None, CultureInfo.InvariantCulture, out int pid) && !IsAlive(pid))
                TryDelete(directory);
        }
    }

    private static bool IsAlive(int pid)
    {
        try
        {
            using var process = Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }

    private static void TryDelete(string directory)
    {
        try
        {
            if (Directory.Exists(directory)) Directory.Delete(directory, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // A stray staging directory is harmless: nothing reads it.
        }
    }

    /// <summary>Reports on the calling thread (no synchronization-context hop), so lines come out in order.</summary>
    private sealed class LineProgress(Action<double> report) : IProgress<double>
    {
        public void Report(double value) => report(value);
    }
}
