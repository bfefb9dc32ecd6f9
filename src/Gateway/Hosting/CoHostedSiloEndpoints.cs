using System.Globalization;

namespace Llama4Cluster.Gateway.Hosting;

/// <summary>The co-hosted silo's Orleans ports on the loopback interface: silo-to-silo and client gateway.</summary>
public sealed record CoHostedSiloEndpoints(int SiloPort, int GatewayPort)
{
    /// <summary>The Orleans gateway endpoint a client connects to (static clustering), e.g. <c>127.0.0.1:30000</c>.</summary>
    public string OrleansGateway => string.Create(CultureInfo.InvariantCulture, $"127.0.0.1:{GatewayPort}");
}
