using Llama4Cluster.Core.Sampling;
using Llama4Cluster.Core.Scheduling;
using Llama4Cluster.Core.Vision;

namespace Llama4Cluster.Core.Tests.Vision;

/// <summary>The one check of a prompt's images against its <c>&lt;|patch|&gt;</c> tokens, as the scheduler applies it to every
/// submission.</summary>
public sealed class VisionInputsTests
{
    private const int Patch = 509;
    private static readonly VisionInputs Inputs = new(Patch, TokensPerTile: 4, TileSize: 56);

    private static ImageTiles Image(int rows, int columns, int tileSize = 56)
    {
        int tiles = rows * columns + (rows * columns > 1 ? 1 : 0);
        return new ImageTiles(tileSize, rows, columns, new float[tiles * 3 * tileSize * tileSize]);
    }

    private static int[] Prompt(int patches) => [1, 2, .. Enumerable.Repeat(Patch, patches), 3];

    [Fact]
    public void Images_must_fill_every_patch_position_exactly()
    {
        Inputs.Check(Prompt(4 + 5 * 4), [Image(1, 1), Image(2, 2)]); // 1 tile + (4 + global) tiles, 4 tokens each
        var e = Assert.Throws<ArgumentException>(() => Inputs.Check(Prompt(20), [Image(1, 1), Image(2, 2)]));
        Assert.Contains("20 image patch tokens", e.Message);
        Assert.Contains("6 tile(s) × 4 = 24", e.Message);
    }

    [Fact]
    public void Tiles_of_another_size_are_refused()
    {
        var e = Assert.Throws<ArgumentException>(() => Inputs.Check(Prompt(4), [Image(1, 1, tileSize: 28)]));
        Assert.Contains("28-pixel tiles", e.Message);
        Assert.Contains("56-pixel", e.Message);
    }

    [Fact]
    public void The_pixel_hash_tells_images_apart()
    {
        var a = Image(1, 1);
        var b = Image(1, 1);
        var c = new ImageTiles(56, 1, 1, Enumerable.Range(0, 3 * 56 * 56).Select(i => i % 7 / 7f).ToArray());
        Assert.Equal(a.ContentHash, b.ContentHash);
        Assert.NotEqual(a.ContentHash, c.ContentHash);
        Assert.Equal(64, a.ContentHash.Length);
    }

    [Fact]
    public void The_scheduler_refuses_a_submission_whose_images_do_not_fit_its_prompt()
    {
        var limits = new ModelLimits(512, 256, [2], Inputs);
        var sampling = new SamplingParams { MaxTokens = 4 };
        Assert.Equal(Prompt(4), SubmissionCheck.Prompt(new SequenceSubmission(Prompt(4), sampling, Images: [Image(1, 1)]), limits));
        var mismatch = Assert.Throws<ArgumentException>(() => SubmissionCheck.Prompt(new SequenceSubmission(Prompt(3), sampling, Images: [Image(1, 1)]), limits));
        Assert.Contains("3 image patch tokens", mismatch.Message);
        var missing = Assert.Throws<ArgumentException>(() => SubmissionCheck.Prompt(new SequenceSubmission(Prompt(4), sampling), limits));
        Assert.Contains("0 image(s)", missing.Message);
        var textOnly = new ModelLimits(512, 256, [2]);
        var noTower = Assert.Throws<ArgumentException>(() => SubmissionCheck.Prompt(new SequenceSubmission(Prompt(4), sampling, Images: [Image(1, 1)]), textOnly));
        Assert.Contains("no vision tower", noTower.Message);
        // A text-only model reads the id as any other token.
        Assert.Equal(Prompt(4), SubmissionCheck.Prompt(new SequenceSubmission(Prompt(4), sampling), textOnly));
    }
}
