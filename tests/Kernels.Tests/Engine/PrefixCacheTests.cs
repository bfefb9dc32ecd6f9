using Llama4Cluster.Core.Config;
using Llama4Cluster.Core.Sampling;
using Llama4Cluster.Core.Scheduling;
using Llama4Cluster.Kernels.Checkpoints;
using Llama4Cluster.Kernels.Engine;
using Llama4Cluster.Kernels.Model;

namespace Llama4Cluster.Kernels.Tests.Engine;

/// <summary>
/// The attention rank's prefix cache: restored KV gives the logits computing it gives (fp32, 1e-5) on tiny checkpoints
/// whose chunk sizes (3 and 4) make the prompts cross many chunk boundaries and whose NoPE layers scale queries by
/// position; the last prompt token is always computed; references keep running sequences' blocks; eviction is LRU over
/// released blocks, a prompt's tail first; a failover's re-prefill hits the cache and continues unchanged.
/// </summary>
public sealed class PrefixCacheTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "l4c-prefix-" + Guid.NewGuid().ToString("N"));
    private readonly List<LocalEngine> _engines = new();

    public void Dispose()
    {
        foreach (var e in _engines) e.Dispose();
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    private Llama4TextModel Model(string preset)
    {
        string dir = Path.Combine(_dir, preset);
        if (!Directory.Exists(dir)) TinyCheckpointWriter.Write(dir, Llama4Presets.Get(preset), new TinyCheckpointOptions { Seed = 21 });
        var engine = LocalEngine.Load(dir, new LocalEngineOptions());
        _engines.Add(engine);
        return engine.Model;
    }

    private static SequenceSettings Greedy() => new(new SamplingParams { Temperature = 0, TopLogprobs = 5 }, [2]);

    private static int[] Tokens(int count, int seed) => [.. Enumerable.Range(0, count).Select(i => 3 + (i * 37 + seed * 101) % 500)];

    private static SequenceWork Decode(long id, int token, bool logits = false) => new(id, new[] { token }, null, Sample: true, ReturnLogits: logits);

    [Theory]
    [InlineData("tiny-scout", 2)]
    [InlineData("tiny-scout", 4)]
    [InlineData("tiny-maverick", 3)]
    [InlineData("tiny-maverick", 1)]
    public async Task RestoredPrefixesGiveTheLogitsOfComputingThem(string preset, int blockSize)
    {
        var model = Model(preset);
        using var cached = new AttentionRankCore(model, prefixCache: new PrefixCacheOptions { BlockSize = blockSize });
        using var plain = new AttentionRankCore(model);
        int[] shared = Tokens(23, seed: 1), tailA = Tokens(5, seed: 2), tailB = Tokens(7, seed: 3);

        // A fills the cache (and decodes a little); B shares its first 23 tokens.
        var a = await cached.StepAsync(new RankStep(1, [new SequenceWork(1, shared.Concat(tailA).ToArray(), Greedy(), Sample: true)]));
        await cached.StepAsync(new RankStep(2, [Decode(1, a.Samples[0].Token.TokenId)]));

        async Task<(float[] Logits, List<int> Tokens, int Hits)> RunB(AttentionRankCore core)
        {
            // Prompt chunks that neither sample nor return logits may be restored whole; the first ends mid-block (its
            // partial block is computed), so the second starts by completing a block from cached rows; the last chunk
            // returns every logit.
            var first = await core.StepAsync(new RankStep(9, [new SequenceWork(2, shared[..5], Greedy(), Sample: false)]));
            var second = await core.StepAsync(new RankStep(10, [new SequenceWork(2, shared[5..].Concat(tailB[..2]).ToArray(), null, Sample: false)]));
            int hits = (first.CacheHits?.Single(h => h.SequenceId == 2).Tokens ?? 0) + (second.CacheHits?.Single(h => h.SequenceId == 2).Tokens ?? 0);
            var rest = await core.StepAsync(new RankStep(11, [new SequenceWork(2, tailB[2..], null, Sample: true, ReturnLogits: true)]));
            var logits = new List<float>(rest.Logits!);
            var tokens = new List<int> { rest.Samples[0].Token.TokenId };
            for (int i = 0; i < 4; i++)
            {
                var next = await core.StepAsync(new RankStep(12 + i, [Decode(2, tokens[^1], logits: true)]));
                logits.AddRange(next.Logits!);
                tokens.Add(next.Samples[0].Token.TokenId);
            }

            return ([.. logits], tokens, hits);
        }

        var withCache = await RunB(cached);
        var without = await RunB(plain);

        // Whole blocks of the shared prefix, less the first chunk's partial block (computed: the chunk ends before it does).
        int expectedHit = shared.Length / blockSize * blockSize - 5 % blockSize;
        Assert.Equal(expectedHit, withCache.Hits);
        Assert.Equal(0, without.Hits);
        Assert.Equal(without.Tokens, withCache.Tokens);
        Assert.Equal(without.Logits.Length, withCache.Logits.Length);
        for (int i = 0; i < without.Logits.Length; i++) Assert.Equal(without.Logits[i], withCache.Logits[i], 1e-5f);
    }

    [Theory]
    [InlineData("tiny-scout", 4)]
    [InlineData("tiny-maverick", 3)]
    public async Task AnIdenticalPromptRestoresAllButItsLastTokenAndSamplesTheSame(string preset, int blockSize)
    {
        var model = Model(preset);
        using var core = new AttentionRankCore(model, prefixCache: new PrefixCacheOptions { BlockSize = blockSize });
        int[] prompt = Tokens(8 * blockSize, seed: 4); // whole blocks: the last one is restored but for its last token

        var first = await core.StepAsync(new RankStep(1, [new SequenceWork(1, prompt, Greedy(), Sample: true)]));
        var second = await core.StepAsync(new RankStep(2, [new SequenceWork(2, prompt, Greedy(), Sample: true)]));

        Assert.Null(first.CacheHits);
        Assert.Equal([new PrefixCacheHit(2, prompt.Length - 1)], second.CacheHits!);
        var (x, y) = (first.Samples[0].Token, second.Samples[0].Token);
        Assert.Equal(x.TokenId, y.TokenId);
        Assert.Equal(x.Logprob!.Value, y.Logprob!.Value, 1e-5f);
        for (int i = 0; i < x.TopLogprobs!.Count; i++) Assert.Equal(x.TopLogprobs[i].Logprob, y.TopLogprobs![i].Logprob, 1e-5f);
    }

    [Fact]
    public async Task ReferencedBlocksStayAndReleasedOnesAreEvictedTailFirst()
    {
        var model = Model("tiny-scout");
        var probe = new PrefixCache(model.Config, new PrefixCacheOptions { BlockSize = 4 }, model.Options.ComputeDType);
        using var core = new AttentionRankCore(model, prefixCache: new PrefixCacheOptions { BlockSize = 4, MaxBytes = 3 * probe.BlockBytes });
        probe.Dispose();
        var cache = core.PrefixCache!;
        int[] a = Tokens(17, seed: 5), b = Tokens(9, seed: 6);

        await core.StepAsync(new RankStep(1, [new SequenceWork(1, a, Greedy(), Sample: true)]));
        Assert.Equal(3, cache.Blocks); // a's 4th block found the budget held by its own referenced blocks
        Assert.Equal(3, cache.ReferencedBlocks);

        core.Release([1]);
        Assert.Equal(0, cache.ReferencedBlocks); // a release drops the sequence's references

        await core.StepAsync(new RankStep(2, [new SequenceWork(2, b, Greedy(), Sample: true)]));
        Assert.Equal(2, cache.Evictions); // b's 2 blocks evicted a's tail (blocks 2 and 1), not its head
        var again = await core.StepAsync(new RankStep(3, [new SequenceWork(3, a, Greedy(), Sample: true)]));
        Assert.Equal([new PrefixCacheHit(3, 4)], again.CacheHits!);
    }

    [Fact]
    public async Task AFailoverReprefillHitsTheCacheAndContinuesExactly()
    {
        var model = Model("tiny-scout");
        var sampling = new SamplingParams { Temperature = 0.9f, TopK = 20, Seed = 77, RepetitionPenalty = 1.3f, PresencePenalty = 0.4f, MaxTokens = 12 };
        int[] prompt = Tokens(19, seed: 8);
        async Task<List<int>> Run(AttentionRankCore core, long id, int[] feed, int resumed, int count)
        {
            var result = await core.StepAsync(new RankStep(1, [new SequenceWork(id, feed, new SequenceSettings(sampling, [2], resumed), Sample: true)]));
            var tokens = new List<int> { result.Samples[0].Token.TokenId };
            for (int i = 1; i < count; i++)
                tokens.Add((await core.StepAsync(new RankStep(1 + i, [Decode(id, tokens[^1])]))).Samples[0].Token.TokenId);
            return tokens;
        }

        using var plain = new AttentionRankCore(model);
        var reference = await Run(plain, 1, prompt, 0, 10);

        using var cached = new AttentionRankCore(model, prefixCache: new PrefixCacheOptions { BlockSize = 2 });
        Assert.Equal(reference, await Run(cached, 1, prompt, 0, 10));
        // The rank "lost" sequence 1 after 4 tokens: its re-prefill (prompt + 4 generated tokens) restores the cached blocks.
        cached.Release([1]);
        var feed = prompt.Concat(reference[..4]).ToArray();
        var first = await cached.StepAsync(new RankStep(20, [new SequenceWork(2, feed, new SequenceSettings(sampling, [2], 4), Sample: true)]));
        Assert.Equal([new PrefixCacheHit(2, feed.Length - 1)], first.CacheHits!); // 22 of 23 tokens: all blocks, then the last computed
        Assert.Equal(reference[4], first.Samples[0].Token.TokenId);
    }

    [Theory]
    [InlineData("tiny-maverick", 16, 3)]
    [InlineData("tiny-maverick", 2, 1)]
    [InlineData("tiny-scout", 16, 4)]
    [InlineData("tiny-scout", 3, 2)]
    [InlineData("scout", 16, 16)]
    public void TheBlockSizeInEffectDividesTheChunk(string preset, int setting, int expected)
    {
        using var cache = new PrefixCache(Llama4Presets.Get(preset), new PrefixCacheOptions { BlockSize = setting }, TorchSharp.torch.ScalarType.BFloat16);
        Assert.Equal(expected, cache.BlockSize);
    }
}
