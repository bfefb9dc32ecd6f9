namespace Llama4Cluster.Gateway.Tests.EndToEnd;

/// <summary>A fact that needs <c>redis-server</c> on the PATH (.ci/run installs it); skipped, with the reason, where it is missing.</summary>
public sealed class RedisFactAttribute : FactAttribute
{
    public RedisFactAttribute()
    {
        if (RedisServer.FindExecutable() is null)
            Skip = "redis-server is not on the PATH (apt-get install -y redis-server): the multi-process test needs it for Orleans membership";
    }
}
