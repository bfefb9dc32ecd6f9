using Llama4Cluster.Cluster.Processes;
using Llama4Cluster.Gateway.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;

namespace Llama4Cluster.Gateway.Tests.Hosting;

/// <summary>Bad arguments and unusable inputs stop the gateway before it listens, with one clear line and the documented exit code.</summary>
public sealed class GatewayStartupTests : IDisposable
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "l4c-gws-" + Guid.NewGuid().ToString("N")[..12]);

    public void Dispose()
    {
        if (Directory.Exists(_directory)) Directory.Delete(_directory, recursive: true);
    }

    [Theory]
    [InlineData(new[] { "--bogus", "1" }, "unknown option --bogus")]
    [InlineData(new[] { "--port" }, "option --port needs a value")]
    [InlineData(new[] { "--port", "1", "--port=2" }, "option --port given twice")]
    [InlineData(new[] { "model-dir" }, "unexpected argument 'model-dir'")]
    [InlineData(new[] { "--port", "http" }, "--port 'http': expected an integer")]
    [InlineData(new[] { "--port", "70000" }, "--port 70000: use a TCP port")]
    [InlineData(new[] { "--max-num-seqs", "0" }, "--max-num-seqs 0: use at least 1")]
    [InlineData(new[] { "--max-step-tokens", "16" }, "--max-step-tokens 16 is below the 64 running sequences")]
    [InlineData(new[] { "--dtype", "fp8" }, "--dtype 'fp8': use float32, bfloat16 or auto")]
    [InlineData(new[] { "--device", "tpu" }, "--device 'tpu': use cpu or cuda:N")]
    [InlineData(new[] { "--redis", "127.0.0.1:6379" }, "--redis needs --model DIR")]
    [InlineData(new[] { "--redis", "nohost", "--model", "/m" }, "--redis 'nohost': expected HOST:PORT")]
    [InlineData(new[] { "--host", "127.0.0.1:80" }, "--host '127.0.0.1:80': give the address only")]
    [InlineData(new[] { "--data-plane", "udp" }, "--data-plane 'udp': use tcp or orleans")]
    public void BadArgumentsAreUsageErrors(string[] args, string message)
    {
        var e = Assert.Throws<GatewayStartupException>(() => GatewayProgram.Build(args, TextWriter.Null));
        Assert.Equal(2, e.ExitCode);
        Assert.Contains(message, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void EveryFlagIsAGatewayConfigurationKey()
    {
        var values = GatewayCommandLine.Parse(["--model=/m", "--port", "9000", "--max-model-len", "64", "--api-key", "k", "--served-model-name", "scout"]);
        Assert.Equal("/m", values["Gateway:ModelDirectory"]);
        Assert.Equal("9000", values["Gateway:Port"]);
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(values).Build();
        var options = GatewayProgram.ReadOptions(configuration);
        Assert.Equal(("/m", 9000, 64, "k", "scout"), (options.ModelDirectory, options.Port, options.MaxModelLength, options.ApiKey, options.ServedModelName));
        // Defaults: http://localhost:8000, one attention rank, two shards per layer, as the silo host.
        var defaults = GatewayProgram.ReadOptions(new ConfigurationBuilder().Build());
        Assert.Equal(("localhost", 8000, 1, 2), (defaults.Host, defaults.Port, defaults.AttentionRanks, defaults.ShardsPerLayer));
        Assert.Equal("http://localhost:8000", GatewayProgram.ListenUrl(defaults));
        Assert.Equal("http://127.0.0.1:0", GatewayProgram.ListenUrl(new GatewayOptions { Port = 0 }));
    }

    [Fact]
    public void ACheckpointWithoutTokenizerFilesIsRejected()
    {
        string model = TinyModelCache.Ensure(_directory, TextWriter.Null);
        string bare = Path.Combine(_directory, "bare");
        Directory.CreateDirectory(bare);
        foreach (var file in Directory.GetFiles(model).Where(f => Path.GetFileName(f) is "config.json" || f.EndsWith(".safetensors", StringComparison.Ordinal)))
            File.Copy(file, Path.Combine(bare, Path.GetFileName(file)));
        var e = Assert.Throws<GatewayStartupException>(() => GatewayProgram.Build(["--model", bare], TextWriter.Null));
        Assert.Equal(1, e.ExitCode);
        Assert.Contains("no tokenizer files", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AMissingModelDirectoryIsRejected()
    {
        var e = Assert.Throws<GatewayStartupException>(() => GatewayProgram.Build(["--model", Path.Combine(_directory, "absent")], TextWriter.Null));
        Assert.Equal(1, e.ExitCode);
        Assert.Contains("no such directory", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TheApiKeyGuardsTheOpenAiEndpointsNotTheStatusOnes()
    {
        string model = TinyModelCache.Ensure(_directory, TextWriter.Null);
        await using var gateway = await InProcessGateway.StartAsync(["--model", model, "--api-key", "sesame"]);
        using (var anonymous = await gateway.Http.GetAsync("v1/models")) Assert.Equal(System.Net.HttpStatusCode.Unauthorized, anonymous.StatusCode);
        using (var health = await gateway.Http.GetAsync("health")) Assert.Equal(System.Net.HttpStatusCode.OK, health.StatusCode);
        using var request = new HttpRequestMessage(HttpMethod.Get, "v1/models") { Headers = { Authorization = new("Bearer", "sesame") } };
        using var allowed = await gateway.Http.SendAsync(request);
        Assert.Equal(System.Net.HttpStatusCode.OK, allowed.StatusCode);
    }

    [Fact]
    public async Task SettingsFilesAreReadOnceNotWatched()
    {
        string model = TinyModelCache.Ensure(_directory, TextWriter.Null);
        await using var app = GatewayProgram.Build(["--model", model], TextWriter.Null);
        var files = ((IConfigurationRoot)app.Configuration).Providers.OfType<Microsoft.Extensions.Configuration.FileConfigurationProvider>().ToList();
        Assert.NotEmpty(files); // appsettings.json and appsettings.{Environment}.json, optional
        Assert.All(files, f => Assert.False(f.Source.ReloadOnChange, $"{f.Source.Path} is watched"));
    }

    [Fact]
    public async Task TheProcessPrintsOneLineAndExitsWith2OnBadArguments()
    {
        var (code, stdout, stderr) = await RunGatewayProcessAsync("--port", "eighty");
        Assert.Equal(2, code);
        Assert.Equal("error: --port 'eighty': expected an integer", stderr.Trim());
        Assert.Equal("", stdout.Trim());

        (code, _, stderr) = await RunGatewayProcessAsync("--model", Path.Combine(_directory, "absent"));
        Assert.Equal(1, code);
        Assert.Single(stderr.Trim().Split('\n'));
        Assert.StartsWith("error: --model", stderr, StringComparison.Ordinal);
    }

    private static async Task<(int Code, string Stdout, string Stderr)> RunGatewayProcessAsync(params string[] args)
    {
        var result = await ChildProcess.RunAsync("dotnet", [GatewayBuild.GatewayHost, .. args], TimeSpan.FromSeconds(60));
        return (result.ExitCode, result.Stdout, result.Stderr);
    }
}
