using System.ClientModel;
using OpenAI;
using OpenAI.Chat;

namespace Llama4Cluster.Gateway.Tests.EndToEnd;

/// <summary>The official OpenAI .NET client pointed at a gateway, as users configure it.</summary>
internal static class OpenAiClients
{
    public static ChatClient Chat(Uri gatewayRoot, string model, string apiKey = "unused") =>
        new(model, new ApiKeyCredential(apiKey), new OpenAIClientOptions
        {
            Endpoint = new Uri(gatewayRoot, "v1"),
            NetworkTimeout = TimeSpan.FromMinutes(2),
        });
}
