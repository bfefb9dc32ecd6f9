using Llama4Cluster.Kernels.Model;
using Llama4Cluster.Kernels.Model.Moe;
using Llama4Cluster.Kernels.Runtime;
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
            torch.randn(shape, generator: g).MulInPlace(std).to_type(torch.ScalarType.BFloat16).DetachFromDisposeScope();
        var router = W(0.3, e, d);
        var sharedGateUp = W(0.15, 2 * f, d);
        var sharedDown = W(0.15, d, f);
        var gateUp = W(0.15, e, 2 * f, d);
        var down = W(0.15, e, d, f);
        var ids = Enumerable.Range(0, e).ToArray();
        var shared = new SwiGluMlp(sharedGateUp, sharedDown);
        using var block = new MoeBlock(new Router(router, topK), shared);
        var fusedExperts = new LocalExpertDispatcher();
        var plainExperts = new LocalExpertDispatcher();
        fusedExperts.Add(0, new GroupedExperts(ids, gateUp.clone().DetachFromDisposeScope(), down.clone().DetachFromDisposeScope()));
        plainExperts.Add(0, new GroupedExperts(ids, gateUp, down));
        var bf16 = new ModelOptions { ComputeDType = torch.ScalarType.BFloat16 };
        using var fused = MoeExecutors.Choose(null, fusedExperts, [(0, block)], bf16);
        using var plain = MoeExecutors.Choose(null, plainExperts, [(0, block)], bf16 with { LocalMoe = LocalMoeStrategy.Grouped });
        using var x = torch.randn([tokens, d], generator: g).to_type(torch.ScalarType.BFloat16);

        // The strategy is chosen once, at load: fused for bf16 CPU experts unless told otherwise.
        Assert.IsType<FusedLocalMoeExecutor>(fused);
        Assert.IsType<DispatchingMoeExecutor>(plain);
        using var a = await fused.ForwardAsync(block, 0, x, default, default);
        using var b = await plain.ForwardAsync(block, 0, x, default, default);
        using var diff = (a.to_type(torch.ScalarType.Float32) - b.to_type(torch.ScalarType.Float32)).abs().max();
        using var scale = b.to_type(torch.ScalarType.Float32).abs().max();
        // Both round to bf16 at different points (fp32 accumulation in one kernel call vs per-op bf16).
        Assert.True(diff.item<float>() <= 0.02f * scale.item<float>(), $"max diff {diff.item<float>()} at scale {scale.item<float>()}");
    }
}
