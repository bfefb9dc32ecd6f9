namespace Llama4Cluster.Tests.Shared;

/// <summary>A fact that needs <c>redis-server</c> on the PATH (.ci/run installs it); skipped, with the reason, where it is missing.</summary>
public sealed class RedisFactAttribute : FactAttribute
{
    public RedisFactAttribute()
    {
        if (RedisServer.FindExecutable() is null) Skip = RedisServer.MissingReason;
    }
}

/// <summary>A theory that needs <c>redis-server</c> on the PATH; skipped, with the reason, where it is missing.</summary>
public sealed class RedisTheoryAttribute : TheoryAttribute
{
    public RedisTheoryAttribute()
    {
        if (RedisServer.FindExecutable() is null) Skip = RedisServer.MissingReason;
    }
}
