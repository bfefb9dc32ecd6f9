namespace Llama4Cluster.Cluster.Hosting;

/// <summary>
/// What an Orleans client learns about its connections to the cluster: <see cref="GatewayLost"/> is raised when the
/// client loses a gateway connection (a silo died or left). A request sent through that gateway loses its answer with it
/// (Orleans routes a reply back through the gateway the request came in by), so the step backend stops waiting for the
/// steps in flight at once rather than after Orleans' response timeout. Registered by <c>AddLlama4Client</c>.
/// </summary>
public sealed class ClusterConnectionEvents
{
    public event Action? GatewayLost;

    internal void OnGatewayCountChanged(GatewayCountChangedEventArgs change)
    {
        if (change.NumberOfConnectedGateways < change.PreviousNumberOfConnectedGateways) GatewayLost?.Invoke();
    }
}
