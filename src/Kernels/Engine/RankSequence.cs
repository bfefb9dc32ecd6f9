using Llama4Cluster.Core.Sampling;
using Llama4Cluster.Core.Scheduling;
using Llama4Cluster.Core.Vision;
using Llama4Cluster.Kernels.Model;
using Llama4Cluster.Kernels.Vision;
using TorchSharp;

namespace Llama4Cluster.Kernels.Engine;

/// <summary>A sequence on this rank: its KV cache, sampler and the tokens the sampler's penalties read; for a prompt with
/// images, their features until the prefill has taken them all.</summary>
internal sealed class RankSequence(long id, Sampler sampler, KvCache cache, SequencePrefix? prefix, int resumedOutput,
    IReadOnlyList<ImageTiles>? images = null, VisionInputs? vision = null) : IDisposable
{
    private readonly List<int> _prompt = new();
    private readonly List<int> _generated = new();
    private readonly int _imagePatches = PatchCount(images, vision); // <|patch|> positions the images fill
    private readonly int[]? _imageKeys = prefix is null ? null : ImageKeys(images, vision); // only a prefix cache reads them
    private bool _sampled;
    private ImageFeatureCursor? _features;
    private int _patchesFed; // <|patch|> tokens fed that images fill (later ones, say generated, are plain tokens)

    /// <summary>The prompt's images, until their features are computed (<see cref="TakeFeatures"/>).</summary>
    public IReadOnlyList<ImageTiles>? PendingImages { get; private set; } = images is { Count: > 0 } ? images : null;

    /// <summary>Whether features must still be computed: images are pending and some of their positions are not fed yet
    /// (a prefix-cache hit may have restored them all).</summary>
    public bool NeedsFeatures => PendingImages is not null && _patchesFed < _imagePatches;

    /// <summary>Forgets the pending images without computing them (every position they fill is fed already).</summary>
    public void SkipFeatures() => PendingImages = null;

    /// <summary>Keeps the features of <see cref="PendingImages"/>, <c>[patches, D]</c> (this object owns them from now on).</summary>
    public void TakeFeatures(torch.Tensor features)
    {
        if (_imagePatches == 0 || features.shape[0] != _imagePatches)
        {
            features.Dispose();
            throw new ArgumentException($"sequence {Id}: its images have {_imagePatches} patch positions; got {features.shape[0]} feature rows");
        }

        _features = new ImageFeatureCursor(features, vision!.PatchTokenId, _patchesFed);
        PendingImages = null;
    }

    /// <summary>The image features of the sequence's next tokens, <paramref name="tokens"/> (<see cref="ImageFeatureCursor.For"/>).</summary>
    public SliceImageFeatures? FeaturesFor(ReadOnlySpan<int> tokens) => _features?.For(tokens);

    /// <summary>
    /// What the prefix cache keys <paramref name="tokens"/> (the sequence's next tokens) by: the tokens themselves, except
    /// that a <c>&lt;|patch|&gt;</c> token an image fills is keyed by that image's pixel hash and its place in the image (a
    /// negative id no text token has), so two prompts share cached rows only where their images are the same.
    /// </summary>
    public int[] PrefixKeys(ReadOnlySpan<int> tokens)
    {
        var keys = tokens.ToArray();
        if (_imageKeys is null) return keys;
        int patch = _patchesFed;
        for (int i = 0; i < keys.Length && patch < _imageKeys.Length; i++)
        {
            if (keys[i] == vision!.PatchTokenId) keys[i] = _imageKeys[patch++];
        }

        return keys;
    }

    private static int PatchCount(IReadOnlyList<ImageTiles>? images, VisionInputs? vision)
    {
        if (images is not { Count: > 0 }) return 0;
        if (vision is null) throw new ArgumentException("a sequence with images needs a rank with a vision tower");
        return checked((int)vision.PatchTokensOf(images));
    }

    /// <summary>One key per image patch position: a hash of the image's pixels and the position's ordinal in the image.</summary>
    private static int[]? ImageKeys(IReadOnlyList<ImageTiles>? images, VisionInputs? vision)
    {
        if (images is not { Count: > 0 } || vision is null) return null;
        var keys = new int[vision.PatchTokensOf(images)];
        int k = 0;
        foreach (var image in images)
        {
            ulong seed = Convert.ToUInt64(image.ContentHash[..16], 16);
            for (int j = 0; j < image.TileCount * vision.TokensPerTile; j++)
            {
                ulong h = (seed ^ (ulong)j) * 0x9E3779B97F4A7C15UL;
                h ^= h >> 29;
                keys[k++] = -1 - (int)(h & 0x7FFFFFFF);
            }
        }

        return keys;
    }

    public long Id { get; } = id;

    public KvCache Cache { get; } = cache;

    /// <summary>Its side of the rank's prefix cache; null when the rank has none.</summary>
    public SequencePrefix? Prefix { get; } = prefix;

    /// <summary>When a step last touched it (<see cref="TimeProvider.GetTimestamp"/>).</summary>
    public long LastUsed { get; set; }

    /// <summary>Tokens fed before the first sample are the prompt; after it, generated tokens.</summary>
    public void Fed(ReadOnlySpan<int> tokens)
    {
        var into = _sampled ? _generated : _prompt;
        foreach (int t in tokens)
        {
            into.Add(t);
            if (_patchesFed < _imagePatches && t == vision!.PatchTokenId) _patchesFed++;
        }

        _features?.Advance(tokens); // frees the features once every image position is filled (decode never needs them)
    }

    public SequenceSample Sample(ReadOnlySpan<float> logits)
    {
        if (!_sampled && resumedOutput > 0)
        {
            // A re-prefill after a failover: the last tokens fed are output already emitted.
            if (resumedOutput > _prompt.Count)
                throw new ArgumentException($"sequence {Id}: {resumedOutput} generated tokens announced, {_prompt.Count} tokens fed");
            _generated.AddRange(_prompt.GetRange(_prompt.Count - resumedOutput, resumedOutput));
            _prompt.RemoveRange(_prompt.Count - resumedOutput, resumedOutput);
        }

        var token = sampler.Sample(logits, _prompt, _generated);
        _sampled = true;
        return new SequenceSample(Id, token);
    }

    public void Dispose()
    {
        _features?.Dispose();
        _features = null;
        Prefix?.Dispose(); // releases its blocks: they become evictable
        Cache.Dispose();
    }
}
