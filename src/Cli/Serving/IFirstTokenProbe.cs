namespace Llama4Cluster.Cli.Serving;

/// <summary>The engine behind the gateway, called without it: the baseline of the gateway's TTFT overhead.</summary>
public interface IFirstTokenProbe
{
    /// <summary>
    /// Generates greedily for <paramref name="prompt"/> (ignoring EOS, <paramref name="maxTokens"/> tokens) and returns
    /// the seconds from the call to the first token.
    /// </summary>
    Task<double> FirstTokenSecondsAsync(IReadOnlyList<int> prompt, int maxTokens, CancellationToken cancellationToken);
}
