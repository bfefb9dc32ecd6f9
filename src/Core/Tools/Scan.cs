namespace Llama4Cluster.Core.Tools;

/// <summary>What reading a piece of model output found: a complete piece, text that cannot be one, or a possible
/// beginning that needs more text (only while the output is still arriving).</summary>
internal enum Scan
{
    Ok,
    Bad,
    More,
}
