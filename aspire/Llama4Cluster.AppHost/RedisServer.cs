using System.Net;
using System.Net.Sockets;
using Aspire.Hosting.ApplicationModel;
using Aspire.Hosting.Orleans;
using Microsoft.Extensions.Configuration;

namespace Llama4Cluster.AppHost;

/// <summary>
/// Redis for Orleans membership and the model grains' directory: Aspire's Redis container where a container runtime
/// exists, else <c>redis-server</c> from the PATH as an executable resource (no persistence: membership is rebuilt by
/// the silos, and a drill that restarts Redis wants an empty one).
/// </summary>
internal static class RedisServer
{
    public const string Name = "redis";

    /// <summary>A container runtime is usable when <c>docker info</c> or <c>podman info</c> answers within 10 s (a client
    /// on the PATH without a running daemon, as on machines without Docker, is not enough);
    /// <c>Llama4:Redis=executable|container</c> overrides the detection.</summary>
    public static bool UseContainer(IConfiguration configuration) => configuration["Llama4:Redis"] switch
    {
        "container" => true,
        "executable" => false,
        null or "" => Answers("docker") || Answers("podman"),
        var other => throw new ArgumentException($"Llama4:Redis '{other}': expected container or executable"),
    };

    /// <summary>Adds Redis and the Orleans clustering that uses it.</summary>
    public static OrleansService AddClustering(IDistributedApplicationBuilder builder, OrleansService orleans)
    {
        if (UseContainer(builder.Configuration))
        {
            // Aspire's Redis resource: Orleans' provider type "Redis" comes from its resource type's name.
            var container = builder.AddRedis(Name);
            return orleans.WithClustering(container);
        }
        int port = FreePort();
        var server = builder.AddResource(new RedisExecutableResource(Name, port))
            .WithArgs("--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--bind", "127.0.0.1",
                "--save", "", "--appendonly", "no", "--protected-mode", "no")
            .WithEndpoint(RedisExecutableResource.EndpointName, e =>
            {
                e.Port = port;
                e.TargetPort = port;
                e.IsProxied = false;
                e.UriScheme = "tcp";
            });
        return orleans.WithClustering(new RedisClustering(server));
    }

    private static bool Answers(string runtime)
    {
        bool onPath = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Any(dir => File.Exists(Path.Combine(dir, runtime)));
        if (!onPath) return false;
        var start = new System.Diagnostics.ProcessStartInfo(runtime, "info")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        using var process = System.Diagnostics.Process.Start(start);
        if (process is null) return false;
        _ = process.StandardOutput.ReadToEndAsync();
        _ = process.StandardError.ReadToEndAsync();
        if (process.WaitForExit(TimeSpan.FromSeconds(10))) return process.ExitCode == 0;
        process.Kill(entireProcessTree: true);
        return false;
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>Orleans' Redis clustering over the executable resource (the variables Aspire's own Redis resource would give).</summary>
    private sealed class RedisClustering(IResourceBuilder<RedisExecutableResource> server) : IProviderConfiguration
    {
        public void ConfigureResource<T>(IResourceBuilder<T> resourceBuilder, string configSectionPath) where T : IResourceWithEnvironment
        {
            string prefix = "Orleans__" + configSectionPath.Replace(":", "__", StringComparison.Ordinal);
            resourceBuilder.WithEnvironment(prefix + "__ProviderType", "Redis");
            resourceBuilder.WithEnvironment(prefix + "__ServiceKey", server.Resource.Name);
            resourceBuilder.WithReference(server);
        }
    }
}

/// <summary><c>redis-server</c> run by Aspire's orchestrator, with a connection string (<c>127.0.0.1:PORT</c>).</summary>
internal sealed class RedisExecutableResource(string name, int port)
    : ExecutableResource(name, "redis-server", Environment.CurrentDirectory), IResourceWithConnectionString
{
    public const string EndpointName = "tcp";

    public int Port { get; } = port;

    public ReferenceExpression ConnectionStringExpression =>
        ReferenceExpression.Create($"127.0.0.1:{Port.ToString(System.Globalization.CultureInfo.InvariantCulture)}");
}
