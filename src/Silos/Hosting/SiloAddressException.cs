namespace Llama4Cluster.Silos.Hosting;

/// <summary>The silo's <c>--advertise</c> / <c>--listen</c> addresses cannot work; the message says why and how to fix it.
/// The silo host prints it as one line and exits with code 2 before anything starts.</summary>
public sealed class SiloAddressException(string message) : Exception(message);
