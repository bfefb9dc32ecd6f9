using System.Globalization;
using Llama4Cluster.AppHost;

// Redis, attention silos, expert silos and the OpenAI gateway as one Aspire application; the Aspire dashboard shows their
// logs, traces and metrics (each process exports OTLP to it through ServiceDefaults).
var builder = DistributedApplication.CreateBuilder(args);
var shape = ClusterShape.Read(builder.Configuration);
string Text(int value) => value.ToString(CultureInfo.InvariantCulture);

// Cluster and service ids are the hosts' defaults, so a gateway or silo started by hand joins the same cluster.
var orleans = RedisServer.AddClustering(builder, builder.AddOrleans("llama4").WithClusterId("llama4").WithServiceId("llama4"));

// Without Llama4:Model the app host writes a tiny random checkpoint first (once; later runs reuse it).
string model = shape.Model ?? ClusterShape.DefaultModelDirectory;
IResourceBuilder<ProjectResource>? createModel = null;
if (shape.Model is null && !File.Exists(Path.Combine(model, "config.json")))
    createModel = builder.AddProject<Projects.Cli>("create-model")
        .WithArgs("create-tiny", "--preset", "tiny-scout", "--out", model);

IResourceBuilder<ProjectResource> Silo(string name, string role)
{
    var silo = builder.AddProject<Projects.Silos>(name)
        .WithArgs("--model", model, "--role", role, "--shards", Text(shape.Shards), "--ranks", Text(shape.Ranks),
            "--dtype", shape.DType, "--threads", Text(shape.Threads))
        .WithReference(orleans)
        .WithHttpEndpoint(name: "http", env: "Llama4__HttpPort")
        .WithHttpHealthCheck("/ready");
    return createModel is null ? silo : silo.WaitForCompletion(createModel);
}

var silos = new List<IResourceBuilder<ProjectResource>>();
for (int i = 0; i < shape.AttentionSilos; i++) silos.Add(Silo($"attention-{i}", "attention"));
for (int i = 0; i < shape.ExpertSilos; i++) silos.Add(Silo($"expert-{i}", "expert"));

var gateway = builder.AddProject<Projects.Gateway>("gateway")
    .WithArgs("--model", model, "--shards", Text(shape.Shards), "--ranks", Text(shape.Ranks), "--host", "127.0.0.1")
    .WithReference(orleans.AsClient())
    .WithHttpEndpoint(name: "http", port: shape.GatewayPort == 0 ? null : shape.GatewayPort, env: "Gateway__Port")
    .WithHttpHealthCheck("/ready")
    .WithExternalHttpEndpoints();
foreach (var silo in silos) gateway.WaitFor(silo);

builder.Build().Run();
