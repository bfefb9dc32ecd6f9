using Llama4Cluster.Core.Scheduling;
using Llama4Cluster.Core.Vision;
using static Llama4Cluster.Core.Tests.Scheduling.SchedulerHarness;

namespace Llama4Cluster.Core.Tests.Scheduling;

/// <summary>Images ride a sequence's first step; the scheduler keeps a step's new images within
/// <see cref="SchedulerOptions.MaxStepImageTiles"/> (a later sequence waits a step), and the images go again with the
/// re-prefill after a failover.</summary>
public sealed class ImageStepTests
{
    private const int Patch = 300;
    private static readonly VisionInputs Vision = new(Patch, TokensPerTile: 1, TileSize: 2);

    private static ModelLimits Limits => TestModel.Limits with { Vision = Vision };

    /// <summary>An image of <paramref name="rows"/> × <paramref name="columns"/> 2-pixel tiles and a prompt that holds its
    /// patch positions (one per tile).</summary>
    private static (int[] Prompt, ImageTiles Image) WithImage(int rows, int columns, int seed)
    {
        int tiles = rows * columns + (rows * columns > 1 ? 1 : 0);
        var image = new ImageTiles(2, rows, columns, new float[tiles * 3 * 2 * 2]);
        return ([.. Prompt(5, seed), .. Enumerable.Repeat(Patch, tiles), 7], image);
    }

    [Fact]
    public async Task NewSequencesWithImagesShareAStepOnlyWithinTheTileBudget()
    {
        await using var h = new SchedulerHarness(ranks: 1, o => o.MaxStepImageTiles = 20, model: Limits);
        var (a, imageA) = WithImage(3, 4, seed: 1); // 13 tiles
        var (b, imageB) = WithImage(3, 4, seed: 2); // 13 more: over 20, so the next step
        var (c, imageC) = WithImage(1, 1, seed: 3); // 1 tile: fits beside A
        var handles = new[] { (a, imageA), (b, imageB), (c, imageC) }
            .Select(p => h.Scheduler.Submit(new SequenceSubmission(p.Item1, Greedy(3), Images: [p.Item2]))).ToArray();
        await h.StartAsync();
        foreach (var handle in handles) await ReadAllAsync(handle);

        var starts = h.Backend.Steps.Select(s => s.Request.Sequences.Where(w => w.Start is not null).ToArray()).Where(w => w.Length > 0).ToArray();
        int Tiles(SequenceWork w) => w.Start!.Images?.Sum(i => i.TileCount) ?? 0;
        Assert.All(starts, step => Assert.True(step.Sum(Tiles) <= 20 || step.Length == 1, $"a step started {step.Sum(Tiles)} tiles"));
        Assert.Equal(3, starts.Sum(s => s.Length));
        Assert.Equal([14, 13], starts.Select(s => s.Sum(Tiles)).ToArray()); // A and C, then B
    }

    [Fact]
    public async Task AStepTakesOneSequenceWhoseImagesAloneExceedTheBudget()
    {
        await using var h = new SchedulerHarness(ranks: 1, o => o.MaxStepImageTiles = 4, model: Limits);
        var (a, image) = WithImage(2, 3, seed: 1); // 7 tiles, more than the budget: it still runs, alone
        var outcome = await RunAsync(h, new SequenceSubmission(a, Greedy(2), Images: [image]));
        Assert.Equal(2, outcome.Tokens.Count);
    }

    [Fact]
    public async Task AFailoverReprefillCarriesTheImagesAgain()
    {
        await using var h = new SchedulerHarness(ranks: 2, model: Limits);
        var gate = h.Backend.Gate = new StepGate();
        var (a, image) = WithImage(1, 2, seed: 4);
        var handle = h.Scheduler.Submit(new SequenceSubmission(a, Greedy(6), Images: [image]));
        await h.StartAsync();
        // Two steps (the prefill with the images, a decode), then its rank dies with its state.
        gate.Allow(2);
        var first = await gate.ArrivalAsync();
        await gate.ArrivalAsync();
        await gate.ArrivalAsync();
        h.Backend.Kill(first.Rank);
        gate.Open();
        var outcome = await ReadAllAsync(handle);

        Assert.Equal(h.Backend.Reference(a, 6), outcome.Tokens);
        var starts = h.Backend.Steps.SelectMany(s => s.Request.Sequences).Where(w => w.Start is not null).ToList();
        Assert.Equal(2, starts.Count); // the first start and the re-prefill's
        Assert.All(starts, w => Assert.Same(image, Assert.Single(w.Start!.Images!)));
        Assert.True(starts[1].Start!.GeneratedTokens > 0);
    }

    private static async Task<Outcome> RunAsync(SchedulerHarness h, SequenceSubmission submission)
    {
        var handle = h.Scheduler.Submit(submission);
        await h.StartAsync();
        return await ReadAllAsync(handle);
    }
}
