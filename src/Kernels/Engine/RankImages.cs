using Llama4Cluster.Kernels.Diagnostics;
using Llama4Cluster.Kernels.Vision;

namespace Llama4Cluster.Kernels.Engine;

/// <summary>The image side of an engine step on a rank with a vision tower (<see cref="AttentionRankCore"/>).</summary>
internal static class RankImages
{
    /// <summary>
    /// The features of the images of the step's new sequences, in one batched run of the vision tower (spec §5.2); each
    /// sequence keeps its rows until its prefill has fed them. Images whose positions the prefix cache restored are skipped.
    /// </summary>
    public static void Encode(List<RankSequence> states, VisionTower vision)
    {
        List<RankSequence>? pending = null;
        foreach (var s in states)
        {
            if (s.NeedsFeatures) (pending ??= new List<RankSequence>()).Add(s);
            else if (s.PendingImages is not null) s.SkipFeatures();
        }

        if (pending is null) return;
        using var activity = KernelsTelemetry.Source.StartActivity("vision.encode");
        var images = pending.SelectMany(s => s.PendingImages!).ToList();
        activity?.SetTag("llama4.images", images.Count);
        activity?.SetTag("llama4.tiles", images.Sum(i => i.TileCount));
        using var features = vision.Model.Encode(images);
        long row = 0;
        foreach (var s in pending)
        {
            long rows = vision.Inputs.PatchTokensOf(s.PendingImages!);
            s.TakeFeatures(features.narrow(0, row, rows));
            row += rows;
        }
    }
}
