using System.Net;
using Llama4Cluster.Core.Scheduling;
using Llama4Cluster.Gateway.Scheduling;
using Microsoft.Extensions.Options;

namespace Llama4Cluster.Gateway.Hosting;

/// <summary>Checks <see cref="GatewayOptions"/> before anything starts; each message names the flag and says how to fix it.</summary>
public sealed class GatewayOptionsValidator : IValidateOptions<GatewayOptions>
{
    public ValidateOptionsResult Validate(string? name, GatewayOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var errors = new List<string>();
        if (options.Port is < 0 or > 65535)
            errors.Add($"--port {options.Port}: use a TCP port (1-65535), or 0 for any free port");
        if (options.DashboardPort is < 0 or > 65535)
            errors.Add($"--dashboard {options.DashboardPort}: use a TCP port (1-65535), or 0 for any free port");
        if (string.IsNullOrWhiteSpace(options.Host))
            errors.Add("--host is empty: use localhost, an IP address, or 0.0.0.0 for every interface");
        else if (options.Host.Contains(':', StringComparison.Ordinal) && !IPAddress.TryParse(options.Host, out _))
            errors.Add($"--host '{options.Host}': give the address only (the port goes in --port)");
        if (options.JoinsCluster)
        {
            if (!IsHostPort(options.Redis))
                errors.Add($"--redis '{options.Redis}': expected HOST:PORT, e.g. 127.0.0.1:6379");
            if (string.IsNullOrWhiteSpace(options.ModelDirectory))
                errors.Add("--redis needs --model DIR: the checkpoint the silos serve (the gateway reads its config.json and tokenizer)");
        }
        if (string.IsNullOrWhiteSpace(options.ClusterId))
            errors.Add("--cluster-id is empty: use the silos' cluster id (their default is llama4)");
        if (string.IsNullOrWhiteSpace(options.ServiceId))
            errors.Add("Gateway:ServiceId is empty: use the silos' service id (llama4)");
        if (options.AttentionRanks < 1)
            errors.Add($"--ranks {options.AttentionRanks}: use at least 1 (the silos' --ranks)");
        if (options.ShardsPerLayer < 1)
            errors.Add($"--shards {options.ShardsPerLayer}: use at least 1 (the silos' --shards)");
        if (options.MaxModelLength is < 1)
            errors.Add($"--max-model-len {options.MaxModelLength}: use at least 1, or leave it out for the checkpoint's max_position_embeddings");
        if (options.MaxNumSeqs is < 1)
            errors.Add($"--max-num-seqs {options.MaxNumSeqs}: use at least 1");
        if (options.PrefixBlockSize < 1)
            errors.Add($"--prefix-block-size {options.PrefixBlockSize}: use at least 1 token (16 by default)");
        if (options.MaxStepTokens is < 1)
            errors.Add($"--max-step-tokens {options.MaxStepTokens}: use at least 1");
        int sequences = options.MaxNumSeqs ?? new SchedulerOptions().MaxRunningSequences;
        if (options.MaxStepTokens is { } stepTokens and >= 1 && stepTokens < sequences)
            errors.Add($"--max-step-tokens {stepTokens} is below the {sequences} running sequences (--max-num-seqs): every running sequence's " +
                $"decode token must fit in one step; use at least {sequences}");
        if (options.DType is not null && NormalizeDType(options.DType) is null)
            errors.Add($"--dtype '{options.DType}': use float32, bfloat16 or auto (fp32 and bf16 are accepted too)");
        if (!IsDeviceSpec(options.Device))
            errors.Add($"--device '{options.Device}': use cpu or cuda:N");
        if (options.Threads is < 1)
            errors.Add($"--threads {options.Threads}: use at least 1, or leave it out for one per core");
        if (options.DataPlane is { } plane && !Enum.IsDefined(plane))
            errors.Add($"--data-plane '{plane}': use tcp (socket data plane) or orleans (grain calls)");
        if (options.MaxMessageBytes < 1 << 20)
            errors.Add($"Gateway:MaxMessageBytes {options.MaxMessageBytes}: use at least 1 MiB (1048576), as the silos' Llama4:MaxMessageBytes");
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

    /// <summary>The silo's name of a <c>--dtype</c> value: <c>bfloat16</c>, <c>float32</c>, <c>auto</c> (the checkpoint's dtype),
    /// or null when unknown.</summary>
    public static string? NormalizeDType(string dtype) => dtype.Trim().ToLowerInvariant() switch
    {
        "bf16" or "bfloat16" => "bfloat16",
        "fp32" or "f32" or "float32" => "float32",
        "auto" => "auto",
        _ => null,
    };

    private static bool IsDeviceSpec(string device)
    {
        string d = device.Trim().ToLowerInvariant();
        return d is "cpu" or "cuda" || (d.StartsWith("cuda:", StringComparison.Ordinal) && int.TryParse(d.AsSpan(5), out int i) && i >= 0);
    }

    /// <summary>HOST:PORT, optionally followed by StackExchange.Redis options (<c>,password=...</c>).</summary>
    private static bool IsHostPort(string value)
    {
        value = value.Split(',')[0].Trim();
        int colon = value.LastIndexOf(':');
        return colon > 0 && int.TryParse(value.AsSpan(colon + 1), out int port) && port is > 0 and <= 65535;
    }
}
