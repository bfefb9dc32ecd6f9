using Llama4Cluster.Cli.Chaos.Report;

namespace Llama4Cluster.Cli.Chaos;

/// <summary>Everything <c>llama4 chaos</c> was asked to do.</summary>
internal sealed record ChaosSettings
{
    public required string ModelDirectory { get; init; }
    public required ChaosScenario Scenario { get; init; }
    public int Streams { get; init; } = 8;
    public int Replicas { get; init; } = 1;
    public int Seed { get; init; }
    public int MaxTokens { get; init; } = 64;
    public int PromptTokens { get; init; } = 16;
    public int AttentionSilos { get; init; } = 2;
    public int ExpertSilos { get; init; } = 2;
    public int ShardsPerLayer { get; init; } = 2;
    public int ThreadsPerSilo { get; init; } = 1;

    /// <summary><c>--silo-addresses distinct</c>: each silo on a loopback address of its own.</summary>
    public bool DistinctAddresses { get; init; }

    /// <summary>How long one stream may take before it counts as failed.</summary>
    public TimeSpan StreamTimeout { get; init; } = TimeSpan.FromSeconds(300);

    /// <summary>How long <c>stall-expert</c> keeps the silo stopped.</summary>
    public TimeSpan StallDuration { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>How long the cluster may take to start, and a restarted process to serve again.</summary>
    public TimeSpan StartTimeout { get; init; } = TimeSpan.FromSeconds(180);

    public bool Json { get; init; }
}
