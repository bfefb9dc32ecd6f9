namespace Llama4Cluster.Cluster.Hosting;

/// <summary>How an Orleans client (the gateway in <c>--redis</c> mode, the CLI's cluster engine, the tests) joins a Llama 4 cluster.</summary>
public sealed record Llama4ClientOptions
{
    /// <summary>The cluster id silos use unless started with <c>--cluster-id</c>.</summary>
    public const string DefaultClusterId = "llama4";

    /// <summary>The Orleans service id of every Llama 4 silo.</summary>
    public const string DefaultServiceId = "llama4";

    /// <summary>Orleans' maximum message body size of the silos (their <c>Llama4:MaxMessageBytes</c> default): 64 MiB.</summary>
    public const int DefaultMaxMessageBytes = 64 << 20;

    /// <summary>Redis membership (<c>HOST:PORT</c>, optionally with StackExchange.Redis options); null: the caller configures clustering.</summary>
    public string? Redis { get; init; }

    public string ClusterId { get; init; } = DefaultClusterId;

    public string ServiceId { get; init; } = DefaultServiceId;

    /// <summary>Orleans' maximum message body size for steps and their replies; must match the silos'.</summary>
    public int MaxMessageBytes { get; init; } = DefaultMaxMessageBytes;
}
