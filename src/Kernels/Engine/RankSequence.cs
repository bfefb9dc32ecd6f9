using Llama4Cluster.Core.Sampling;
using Llama4Cluster.Core.Scheduling;
using Llama4Cluster.Kernels.Model;

namespace Llama4Cluster.Kernels.Engine;

/// <summary>A sequence on this rank: its KV cache, sampler and the tokens the sampler's penalties read.</summary>
internal sealed class RankSequence(long id, Sampler sampler, KvCache cache, SequencePrefix? prefix, int resumedOutput) : IDisposable
{
    private readonly List<int> _prompt = new();
    private readonly List<int> _generated = new();
    private bool _sampled;

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
        foreach (int t in tokens) into.Add(t);
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
        Prefix?.Dispose(); // releases its blocks: they become evictable
        Cache.Dispose();
    }
}
