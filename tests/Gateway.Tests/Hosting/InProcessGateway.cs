using System.Net.Http.Json;
using System.Text.Json;
using Llama4Cluster.Gateway.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Logging;

namespace Llama4Cluster.Gateway.Tests.Hosting;

/// <summary>
/// The gateway application built by <see cref="GatewayProgram.Build"/> and started in the test process on an OS-chosen
/// port, with its co-hosted silo; stopped and disposed on <see cref="DisposeAsync"/>.
/// </summary>
public sealed class InProcessGateway : IAsyncDisposable
{
    private InProcessGateway(WebApplication app, Uri baseAddress)
    {
        App = app;
        BaseAddress = baseAddress;
        Http = new HttpClient { BaseAddress = baseAddress, Timeout = TimeSpan.FromMinutes(2) };
    }

    public WebApplication App { get; }

    /// <summary>http://127.0.0.1:PORT/</summary>
    public Uri BaseAddress { get; }

    public HttpClient Http { get; }

    /// <summary>Builds and starts the gateway with <paramref name="args"/> (plus <c>--port 0</c>), quiet logs;
    /// <paramref name="configure"/> may add configuration and services before the gateway's own.</summary>
    public static async Task<InProcessGateway> StartAsync(
        IEnumerable<string> args, TextWriter? progress = null, Action<WebApplicationBuilder>? configure = null)
    {
        var app = GatewayProgram.Build([.. args, "--port", "0"], progress ?? TextWriter.Null, builder =>
        {
            builder.Logging.ClearProviders();
            builder.Logging.SetMinimumLevel(LogLevel.Warning);
            configure?.Invoke(builder);
        });
        try
        {
            await app.StartAsync();
            string address = GatewayProgram.ListeningAddresses(app).Single();
            return new InProcessGateway(app, new Uri(address.TrimEnd('/') + "/"));
        }
        catch
        {
            await app.DisposeAsync();
            throw;
        }
    }

    /// <summary>Polls <c>GET /ready</c> until 200 (bounded); fails with the last body otherwise.</summary>
    public async Task<JsonElement> WaitReadyAsync(TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(90));
        string last = "";
        while (DateTime.UtcNow < deadline)
        {
            using var response = await Http.GetAsync("ready");
            last = await response.Content.ReadAsStringAsync();
            if (response.IsSuccessStatusCode) return JsonDocument.Parse(last).RootElement.Clone();
            await Task.Delay(100);
        }
        throw new TimeoutException($"/ready did not become 200; last body: {last}");
    }

    public async Task<JsonElement> GetJsonAsync(string path) =>
        (await Http.GetFromJsonAsync<JsonElement>(path)).Clone();

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        try
        {
            using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(20));
            await App.StopAsync(stop.Token);
        }
        finally
        {
            await App.DisposeAsync();
        }
    }
}
