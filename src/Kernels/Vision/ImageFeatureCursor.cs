using Llama4Cluster.Kernels.Model;
using static TorchSharp.torch;

namespace Llama4Cluster.Kernels.Vision;

/// <summary>
/// A prompt's image features <c>[patches, D]</c> handed out in prompt order as its tokens are fed: row i fills the i-th
/// <c>&lt;|patch|&gt;</c> token (spec §5.4). Owns the features and frees them once every row is fed. Patch tokens after the
/// last row (a generated <c>&lt;|patch|&gt;</c>, say) are plain tokens.
/// </summary>
public sealed class ImageFeatureCursor : IDisposable
{
    private readonly int _patchTokenId;
    private Tensor? _features;

    /// <param name="features">The rows, owned from now on.</param>
    /// <param name="patchTokenId">The <c>&lt;|patch|&gt;</c> id.</param>
    /// <param name="fed">Rows whose tokens were fed already (restored from a prefix cache).</param>
    public ImageFeatureCursor(Tensor features, int patchTokenId, int fed = 0)
    {
        ArgumentNullException.ThrowIfNull(features);
        if (fed < 0 || fed > features.shape[0]) throw new ArgumentOutOfRangeException(nameof(fed));
        _features = features;
        _patchTokenId = patchTokenId;
        Total = (int)features.shape[0];
        Fed = fed;
        if (Fed == Total) Dispose();
    }

    /// <summary>Rows in all.</summary>
    public int Total { get; }

    /// <summary>Rows whose tokens have been fed.</summary>
    public int Fed { get; private set; }

    /// <summary>The rows for the <c>&lt;|patch|&gt;</c> tokens among <paramref name="tokens"/> (the prompt's next tokens), or
    /// null when they have none; a view valid until <see cref="Advance"/> passes them.</summary>
    public SliceImageFeatures? For(ReadOnlySpan<int> tokens)
    {
        if (_features is null) return null;
        List<int>? offsets = null;
        int left = Total - Fed;
        for (int i = 0; i < tokens.Length && left > 0; i++)
        {
            if (tokens[i] != _patchTokenId) continue;
            (offsets ??= new List<int>()).Add(i);
            left--;
        }

        return offsets is null ? null : new SliceImageFeatures([.. offsets], _features.narrow(0, Fed, offsets.Count));
    }

    /// <summary><paramref name="tokens"/> were fed: their rows are used.</summary>
    public void Advance(ReadOnlySpan<int> tokens)
    {
        foreach (int t in tokens)
            if (t == _patchTokenId && Fed < Total) Fed++;
        if (Fed == Total) Dispose();
    }

    public void Dispose()
    {
        _features?.Dispose();
        _features = null;
    }
}
