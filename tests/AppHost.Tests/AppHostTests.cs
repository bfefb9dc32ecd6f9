using System.Net.Http.Json;
using System.Text.Json;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Aspire.Hosting.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Llama4Cluster.AppHost.Tests;

/// <summary>
/// The app host: the resources it declares (built, not started) and the whole application started by Aspire's
/// orchestrator, with a chat completion through the gateway resource.
/// </summary>
public sealed class AppHostTests
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromMinutes(6);

    [Fact]
    public async Task TheResourceGraphHasRedisTheSilosOfEachRoleAndTheGatewayWiredThroughOrleans()
    {
        var builder = await DistributedApplicationTestingBuilder.CreateAsync<Projects.Llama4Cluster_AppHost>(
            ["--Llama4:AttentionSilos", "2", "--Llama4:ExpertSilos", "3", "--Llama4:Redis", "executable", "--Llama4:Model", "/models/scout"],
            new CancellationTokenSource(TimeSpan.FromSeconds(60)).Token);
        var resources = builder.Resources;
        var names = resources.Select(r => r.Name).ToHashSet();
        Assert.Subset(names, new HashSet<string> { "redis", "attention-0", "attention-1", "expert-0", "expert-1", "expert-2", "gateway" });
        Assert.DoesNotContain("create-model", names); // a model was given
        var redis = Assert.IsType<RedisExecutableResource>(resources.Single(r => r.Name == "redis"));
        Assert.Equal("redis-server", redis.Command);

        var silo = resources.Single(r => r.Name == "expert-2");
        var env = await EnvironmentOf(silo);
        Assert.Equal("Redis", env["Orleans__Clustering__ProviderType"]);
        Assert.Equal("redis", env["Orleans__Clustering__ServiceKey"]);
        Assert.Equal("{redis.connectionString}", env["ConnectionStrings__redis"]);
        Assert.Equal("127.0.0.1:" + redis.Port, await redis.ConnectionStringExpression.GetValueAsync(default));
        Assert.Equal("llama4", env["Orleans__ClusterId"]);
        var args = await ArgumentsOf(silo);
        Assert.Equal(["--model", "/models/scout", "--role", "expert", "--shards", "3", "--ranks", "2"], args.Take(8));

        var gateway = resources.Single(r => r.Name == "gateway");
        var gatewayEnv = await EnvironmentOf(gateway);
        Assert.Equal("Redis", gatewayEnv["Orleans__Clustering__ProviderType"]);
        Assert.False(gatewayEnv.ContainsKey("Orleans__Endpoints__SiloPort"), "the gateway is a client, not a silo");
        Assert.True(env.ContainsKey("Orleans__Endpoints__SiloPort"), "a silo gets its silo port from Aspire");
    }

    [Fact]
    public async Task WithoutAModelTheAppHostFirstWritesOneAndTheSilosWaitForIt()
    {
        string cache = Path.Combine(Path.GetTempPath(), "llama4-apphost-graph-" + Guid.NewGuid().ToString("N"));
        Environment.SetEnvironmentVariable("LLAMA4_CACHE", cache);
        try
        {
            var builder = await DistributedApplicationTestingBuilder.CreateAsync<Projects.Llama4Cluster_AppHost>(["--Llama4:Redis", "executable"]);
            var create = builder.Resources.Single(r => r.Name == "create-model");
            var args = await ArgumentsOf(create);
            Assert.Equal(["create-tiny", "--preset", "tiny-scout", "--out", Path.Combine(cache, "models", "apphost-tiny-scout")], args);
            var silo = builder.Resources.Single(r => r.Name == "attention-0");
            Assert.Contains(silo.Annotations.OfType<WaitAnnotation>(), w => w.Resource.Name == "create-model" && w.WaitType == WaitType.WaitForCompletion);
        }
        finally
        {
            Environment.SetEnvironmentVariable("LLAMA4_CACHE", null);
        }
    }

    /// <summary>The orchestrator starts redis-server, one attention and one expert silo and the gateway; the gateway
    /// resource becomes healthy (its /ready: the cluster answers) and serves a chat completion.</summary>
    [RedisServerFact]
    public async Task TheApplicationStartsAndAChatCompletionThroughTheGatewayResourceSucceeds()
    {
        string cache = Path.Combine(Path.GetTempPath(), "llama4-apphost-" + Guid.NewGuid().ToString("N"));
        Environment.SetEnvironmentVariable("LLAMA4_CACHE", cache);
        using var timeout = new CancellationTokenSource(StartTimeout);
        try
        {
            var builder = await DistributedApplicationTestingBuilder.CreateAsync<Projects.Llama4Cluster_AppHost>(
                ["--Llama4:Redis", "executable", "--Llama4:GatewayPort", "0"], timeout.Token);
            await using var app = await builder.BuildAsync(timeout.Token);
            await app.StartAsync(timeout.Token);
            var notifications = app.Services.GetRequiredService<ResourceNotificationService>();
            await notifications.WaitForResourceHealthyAsync("gateway", timeout.Token);

            using var http = app.CreateHttpClient("gateway", "http");
            // The served model's name is its directory's (the app host's own tiny checkpoint).
            using var models = JsonDocument.Parse(await http.GetStringAsync("/v1/models", timeout.Token));
            string model = models.RootElement.GetProperty("data")[0].GetProperty("id").GetString()!;
            Assert.Equal("apphost-tiny-scout", model);
            using var response = await http.PostAsJsonAsync("/v1/chat/completions", new
            {
                model,
                messages = new[] { new { role = "user", content = "Hello" } },
                max_tokens = 4,
                temperature = 0,
            }, timeout.Token);
            string body = await response.Content.ReadAsStringAsync(timeout.Token);
            Assert.True(response.IsSuccessStatusCode, body);
            using var json = JsonDocument.Parse(body);
            var choice = json.RootElement.GetProperty("choices")[0];
            Assert.Equal("assistant", choice.GetProperty("message").GetProperty("role").GetString());
            Assert.Equal(4, json.RootElement.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
        }
        finally
        {
            Environment.SetEnvironmentVariable("LLAMA4_CACHE", null);
            try { Directory.Delete(cache, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }

    // The environment and arguments the resource's callbacks produce, read without resolving endpoint references (those
    // are allocated only when the orchestrator runs; resolving them here would wait for an allocation that never comes).
    private static async Task<Dictionary<string, string>> EnvironmentOf(IResource resource)
    {
        var context = new EnvironmentCallbackContext(new DistributedApplicationExecutionContext(DistributedApplicationOperation.Run));
        foreach (var callback in resource.Annotations.OfType<EnvironmentCallbackAnnotation>()) await callback.Callback(context);
        return context.EnvironmentVariables.ToDictionary(kv => kv.Key, kv => Describe(kv.Value));
    }

    private static async Task<string[]> ArgumentsOf(IResource resource)
    {
        var args = new List<object>();
        var context = new CommandLineArgsCallbackContext(args);
        foreach (var callback in resource.Annotations.OfType<CommandLineArgsCallbackAnnotation>()) await callback.Callback(context);
        return [.. args.Select(Describe)];
    }

    /// <summary>A plain value as itself; a reference (an endpoint, a connection string) as its manifest expression.</summary>
    private static string Describe(object value) => value switch
    {
        string s => s,
        IManifestExpressionProvider expression => expression.ValueExpression,
        _ => value.ToString() ?? "",
    };
}

/// <summary>A fact that needs <c>redis-server</c> on the PATH (.ci/run installs it): the app host runs it as an executable
/// resource where no container runtime answers. Skipped, with the reason, where it is missing.</summary>
public sealed class RedisServerFactAttribute : FactAttribute
{
    public RedisServerFactAttribute()
    {
        bool found = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Any(dir => File.Exists(Path.Combine(dir, "redis-server")));
        if (!found) Skip = "redis-server is not on the PATH (apt-get install -y redis-server)";
    }
}
