using Llama4Cluster.Kernels.Cpu;
using TorchSharp;

namespace Llama4Cluster.Kernels.Tests.Cpu;

/// <summary>
/// What batch-invariant mode rests on, bit for bit: the streaming matmul gives a row the same result whatever rows share
/// the call and however many threads cut the work, on every instruction set; the decode attention kernel with its fixed
/// block plan gives the same result on 1 and 3 threads.
/// </summary>
[Collection(CpuKernelCollection.Name)]
public sealed class KernelInvarianceTests
{
    [Theory]
    [InlineData(64, 37)]
    [InlineData(200, 203)]
    [InlineData(2048, 130)]
    public void AMatMulRowIsTheSameAloneInAnyBatchAndOnAnyThreadCount(int inF, int outF)
    {
        var rng = new Random(inF + outF);
        const int Batch = 45;
        var x = Bf16Reference.RandomFloats(rng, Batch * inF);
        var w = Bf16Reference.RandomBf16(rng, outF * inF);
        using var one = new CpuWorkerPool(1);
        using var three = new CpuWorkerPool(3);
        foreach (var isa in IsaScope.Available)
        {
            using var _ = new IsaScope(isa);
            var all = new float[Batch * outF];
            Bf16MatMul.Multiply(x, w, all, Batch, inF, outF, three);
            foreach (int row in new[] { 0, 4, 21, Batch - 1 })
            {
                foreach (var pool in new[] { one, three })
                {
                    var alone = new float[outF];
                    Bf16MatMul.Multiply(x.AsSpan(row * inF, inF), w, alone, 1, inF, outF, pool);
                    Assert.True(alone.AsSpan().SequenceEqual(all.AsSpan(row * outF, outF)),
                        $"{isa} In={inF} Out={outF}: row {row} alone on {pool.ThreadCount} thread(s) differs from row {row} of {Batch} on 3");
                }
            }
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(70)]
    [InlineData(1000)]
    public void FixedPlanDecodeAttentionIsTheSameOnOneAndThreeThreads(int keys)
    {
        using var scope = torch.NewDisposeScope();
        var gen = new torch.Generator(seed: (ulong)keys);
        var q = torch.randn([1, 8, 64], generator: gen).to(torch.bfloat16);
        var k = torch.randn([keys, 2, 64], generator: gen).to(torch.bfloat16);
        var v = torch.randn([keys, 2, 64], generator: gen).to(torch.bfloat16);
        using var one = new CpuWorkerPool(1);
        using var three = new CpuWorkerPool(3);
        var a = Bf16DecodeAttention.Attend(q, k, v, 0.125, one, threadIndependent: true).to(torch.float32).data<float>().ToArray();
        var b = Bf16DecodeAttention.Attend(q, k, v, 0.125, three, threadIndependent: true).to(torch.float32).data<float>().ToArray();
        Assert.Equal(a, b);
        var reference = Bf16DecodeAttention.Attend(q, k, v, 0.125, three).to(torch.float32).data<float>().ToArray();
        Assert.All(a.Zip(reference), p => Assert.True(Math.Abs(p.First - p.Second) < 2e-2, $"{p.First} vs {p.Second}"));
    }
}
