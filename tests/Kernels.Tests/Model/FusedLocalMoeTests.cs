using Llama4Cluster.Kernels.Model;
using Llama4Cluster.Kernels.Model.Moe;
using TorchSharp;

namespace Llama4Cluster.Kernels.Tests.Model;

/// <summary>The one-call decode path of a local bf16 MoE layer against Prepare → dispatch → Combine.</summary>
public sealed class FusedLocalMoeTests
{
    [Theory]
    [InlineData(1, 1)]
    [InlineData(8, 1)]
    [InlineData(5, 2)]
    [InlineData(32, 2)]
    public async Task FusedDecodeMatchesTheDispatchPath(int tokens, int topK)
    {
        const int d = 64, f = 48, e = 16;
        var g = new torch.Generator(42);
        torch.Tensor W(double std, params long[] shape) =>
            torch.randn(shape, generator: g).mul_(std).to_type(torch.ScalarType.BFloat16).DetachFromDisposeScope();
        var router = W(0.3, e, d);
        var sharedGateUp = W(0.15, 2 * f, d);
        var sharedDown = W(0.15, d, f);
        var gateUp = W(0.15, e, 2 * f, d);
        var down = W(0.15, e, d, f);
        var ids = Enumerable.Range(0, e).ToArray();
        var shared = new SwiGluMlp(sharedGateUp, sharedDown);
        using var block = new MoeBlock(new Router(router, topK), shared);
        using var fused = new LocalExpertDispatcher { FusedDecode = true };
        using var plain = new LocalExpertDispatcher { FusedDecode = false };
        fused.Add(0, new GroupedExperts(ids, gateUp.clone().DetachFromDisposeScope(), down.clone().DetachFromDisposeScope()));
        plain.Add(0, new GroupedExperts(ids, gateUp, down));
        using var x = torch.randn([tokens, d], generator: g).to_type(torch.ScalarType.BFloat16);

        Assert.True(FusedLocalMoe.Applies(x, fused.Layer(0), shared)); // the fused path is the one under test
        using var a = await block.ForwardAsync(0, x, fused, default);
        using var b = await block.ForwardAsync(0, x, plain, default);
        using var diff = (a.to_type(torch.ScalarType.Float32) - b.to_type(torch.ScalarType.Float32)).abs().max();
        using var scale = b.to_type(torch.ScalarType.Float32).abs().max();
        // Both round to bf16 at different points (fp32 accumulation in one kernel call vs per-op bf16).
        Assert.True(diff.item<float>() <= 0.02f * scale.item<float>(), $"max diff {diff.item<float>()} at scale {scale.item<float>()}");
    }
}
