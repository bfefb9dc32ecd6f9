using Llama4Cluster.Core.Vision;

namespace Llama4Cluster.Gateway.Api;

/// <summary>One prompt of a request: its token ids, for <c>echo</c> the text to repeat before the completion, and its images
/// in prompt order (their features fill the prompt's <c>&lt;|patch|&gt;</c> positions).</summary>
internal sealed record PlannedPrompt(IReadOnlyList<int> TokenIds, string? EchoText = null, IReadOnlyList<ImageTiles>? Images = null);
