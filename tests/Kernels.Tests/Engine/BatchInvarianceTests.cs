using Llama4Cluster.Core.Config;
using Llama4Cluster.Core.Generation;
using Llama4Cluster.Core.Sampling;
using Llama4Cluster.Kernels.Checkpoints;
using Llama4Cluster.Kernels.Engine;
using Llama4Cluster.Kernels.Tests.Model;
using TorchSharp;

namespace Llama4Cluster.Kernels.Tests.Engine;

/// <summary>
/// bf16 with batch-invariant kernels (<see cref="LocalEngineOptions.BatchInvariant"/>): a token's logits are bit for bit the
/// same whether its position was prefilled in one pass, in chunks, or decoded one token at a time, and a request's greedy
/// tokens and logprobs are the same alone and in a batch of 64 whose prefills and decodes share steps.
/// </summary>
public sealed class BatchInvarianceTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "l4c-invariant-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_root)) Directory.Delete(_root, recursive: true);
    }

    private string Write(string preset)
    {
        string dir = Path.Combine(_root, preset);
        if (!Directory.Exists(dir)) TinyCheckpointWriter.Write(dir, Llama4Presets.Get(preset), new TinyCheckpointOptions { Seed = 7, DType = SafetensorsDType.BF16 });
        return dir;
    }

    private static LocalEngineOptions Bf16(int maxStepTokens) => new()
    {
        ComputeDType = torch.ScalarType.BFloat16, BatchInvariant = true, MaxStepTokens = maxStepTokens, PrefixCache = Kernels.Model.PrefixCacheOptions.Disabled,
    };

    [Theory]
    [InlineData("tiny-scout")]
    [InlineData("tiny-maverick")]
    public void LogitsAreTheSamePrefilledAtOnceInChunksOrDecodedTokenByToken(string preset)
    {
        string dir = Write(preset);
        var tokens = ModelTestData.Tokens(40, seed: 11);
        float[][] Run(int maxStepTokens)
        {
            using var engine = LocalEngine.Load(dir, Bf16(maxStepTokens));
            return engine.Logits(tokens);
        }
        var once = Run(512);
        var chunks = Run(7);
        var decoded = Run(1);
        for (int p = 0; p < tokens.Length; p++)
        {
            Assert.True(once[p].AsSpan().SequenceEqual(chunks[p]), $"position {p}: one prefill and chunks of 7 differ");
            Assert.True(once[p].AsSpan().SequenceEqual(decoded[p]), $"position {p}: one prefill and token-by-token decode differ");
        }
    }

    [Theory]
    [InlineData("tiny-scout")]
    [InlineData("tiny-maverick")]
    public async Task GreedyTokensAndLogprobsAreTheSameAloneAndInABatchOf64(string preset)
    {
        string dir = Write(preset);
        using var engine = LocalEngine.Load(dir, Bf16(64));
        var requests = Enumerable.Range(0, 64).Select(i => new GenerationRequest(
            ModelTestData.Tokens(3 + 5 * (i % 6), seed: 40 + i),
            new SamplingParams { MaxTokens = 12, IgnoreEos = true, TopLogprobs = 0 })).ToArray();
        var batched = await engine.GenerateAsync(requests);
        for (int i = 0; i < requests.Length; i++)
        {
            var alone = (await engine.GenerateAsync([requests[i]]))[0];
            Assert.Equal(alone.Tokens, batched[i].Tokens);
            Assert.Equal(alone.Details.Select(d => d.Logprob), batched[i].Details.Select(d => d.Logprob));
        }
    }
}
