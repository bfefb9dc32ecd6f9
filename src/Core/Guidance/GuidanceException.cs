namespace Llama4Cluster.Core.Guidance;

/// <summary>
/// A constraint that cannot be compiled: malformed, or using a feature guided decoding does not support. The message
/// names the feature and where it is (a JSON-schema path such as <c>properties.zip.format</c>, or a regex position), so
/// the gateway can return it as a 400.
/// </summary>
public sealed class GuidanceException : ArgumentException
{
    public GuidanceException(string feature, string message)
        : base(message)
    {
        Feature = feature;
    }

    /// <summary>The schema keyword or regex construct at fault (e.g. <c>patternProperties</c>, <c>lookahead</c>).</summary>
    public string Feature { get; }
}
