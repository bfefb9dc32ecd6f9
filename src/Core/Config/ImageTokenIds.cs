namespace Llama4Cluster.Core.Config;

/// <summary>Image token ids written at the top level of a ConditionalGeneration config.</summary>
public sealed record ImageTokenIds(int ImageStart, int ImageEnd, int Patch);
