namespace Llama4Cluster.Gateway.Tests.Api;

/// <summary>The API server with a 4,096-token context: a prompt that lists tools (the template's instructions and each
/// function's JSON) does not fit the shared server's 256 tokens with the tiny tokenizer.</summary>
public sealed class ToolApiServerFixture() : ApiServerFixture(4096);
