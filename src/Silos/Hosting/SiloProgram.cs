using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;

namespace Llama4Cluster.Silos.Hosting;

/// <summary>
/// The silo process: <c>--model DIR [--device cpu|cuda:N] [--redis HOST:PORT]</c>. Without <c>--redis</c> it runs a
/// single-process localhost cluster (dev).
/// </summary>
public static class SiloProgram
{
    public static async Task<int> RunAsync(string[] args)
    {
        var switches = new Dictionary<string, string>
        {
            ["--model"] = "Llama4:ModelDirectory",
            ["--device"] = "Llama4:Device",
            ["--dtype"] = "Llama4:DType",
            ["--wire-dtype"] = "Llama4:WireDType",
            ["--shards"] = "Llama4:ShardsPerLayer",
            ["--ranks"] = "Llama4:AttentionRanks",
            ["--redis"] = "Llama4:Redis",
            ["--role"] = "Llama4:Role",
        };
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration.AddCommandLine(args, switches);
        string? redis = builder.Configuration["Llama4:Redis"];
        builder.UseOrleans(silo =>
        {
            if (string.IsNullOrEmpty(redis)) silo.UseLocalhostClustering();
            else silo.UseRedisClustering(redis);
            silo.AddLlama4Silo();
        });
        using var host = builder.Build();
        await host.RunAsync();
        return 0;
    }
}
