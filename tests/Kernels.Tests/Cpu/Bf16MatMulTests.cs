using Llama4Cluster.Kernels.Cpu;

namespace Llama4Cluster.Kernels.Tests.Cpu;

/// <summary>
/// <see cref="Bf16MatMul"/> against a float64 reference for many shapes, on every instruction
/// set this machine has (forced through <see cref="Bf16MatMul.ForcedIsa"/>).
/// </summary>
[Collection(CpuKernelCollection.Name)]
public sealed class Bf16MatMulTests
{
    public static TheoryData<int, int, int> Shapes()
    {
        var data = new TheoryData<int, int, int>();
        int[] batches = [1, 2, 3, 4, 5, 7, 8, 9, 16, 17];
        (int In, int Out)[] sizes = [(1, 1), (7, 3), (31, 5), (32, 4), (33, 9), (64, 1), (100, 13), (255, 37), (512, 64), (1000, 67)];
        foreach (int b in batches)
        {
            foreach (var (i, o) in sizes)
            {
                data.Add(b, i, o);
            }
        }

        data.Add(1, 4096, 260);
        data.Add(32, 2048, 129);
        return data;
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void MatchesFloat64ReferenceOnEveryIsa(int batch, int inF, int outF)
    {
        var rng = new Random(batch * 7919 + inF * 31 + outF);
        var x = Bf16Reference.RandomFloats(rng, batch * inF);
        var w = Bf16Reference.RandomBf16(rng, outF * inF);
        var expected = Bf16Reference.MatMul(x, w, batch, inF, outF);
        double tol = 1e-5 * Math.Sqrt(inF) + 1e-6;
        foreach (var isa in IsaScope.Available)
        {
            using var _ = new IsaScope(isa);
            var y = new float[batch * outF];
            Array.Fill(y, float.NaN);
            Bf16MatMul.Multiply(x, w, y, batch, inF, outF);
            Bf16Reference.AssertClose(expected, y, tol, $"{isa} B={batch} In={inF} Out={outF}");
        }
    }

    [Theory]
    [InlineData(true, 1024)]
    [InlineData(false, 1024)]
    [InlineData(false, 512 * 1024)]
    public void RowOrderAndChunkSizeDoNotChangeResults(bool spreadRows, int chunkBytes)
    {
        var rng = new Random(chunkBytes);
        const int In = 200, Out = 203;
        var x = Bf16Reference.RandomFloats(rng, 6 * In);
        var w = Bf16Reference.RandomBf16(rng, Out * In);
        var expected = Bf16Reference.MatMul(x, w, 6, In, Out);
        bool oldSpread = Bf16MatMul.SpreadRows;
        int oldChunk = Bf16MatMul.ChunkBytes;
        try
        {
            Bf16MatMul.SpreadRows = spreadRows;
            Bf16MatMul.ChunkBytes = chunkBytes;
            foreach (int b in new[] { 1, 5, 6 })
            {
                var y = new float[b * Out];
                Bf16MatMul.Multiply(x.AsSpan(0, b * In), w, y, b, In, Out);
                Bf16Reference.AssertClose(expected.AsSpan(0, b * Out).ToArray(), y, 1e-4, $"spread={spreadRows} chunk={chunkBytes} B={b}");
            }
        }
        finally
        {
            Bf16MatMul.SpreadRows = oldSpread;
            Bf16MatMul.ChunkBytes = oldChunk;
        }
    }

    [Fact]
    public void SingleThreadPoolAndSharedPoolAgree()
    {
        var rng = new Random(5);
        const int B = 3, In = 777, Out = 301;
        var x = Bf16Reference.RandomFloats(rng, B * In);
        var w = Bf16Reference.RandomBf16(rng, Out * In);
        var y1 = new float[B * Out];
        var y2 = new float[B * Out];
        using var single = new CpuWorkerPool(1);
        Bf16MatMul.Multiply(x, w, y1, B, In, Out, single);
        Bf16MatMul.Multiply(x, w, y2, B, In, Out);
        Assert.Equal(y1, y2);
    }

    [Fact]
    public void EmptyShapesWriteZerosOrNothing()
    {
        var y = new float[4];
        Bf16MatMul.Multiply([], new ushort[20], y, 0, 5, 4);
        Bf16MatMul.Multiply(new float[15], [], [], 3, 5, 0);
        Array.Fill(y, 1f);
        Bf16MatMul.Multiply([], [], y, 2, 0, 2);
        Assert.All(y, v => Assert.Equal(0f, v));
    }

    [Fact]
    public void SpansTooShortThrow()
    {
        Assert.Throws<ArgumentException>(() => Bf16MatMul.Multiply(new float[3], new ushort[6], new float[2], 1, 3, 3));
    }

    [Fact]
    public void SequentialCallsFromManyThreadsAreCorrect()
    {
        var rng = new Random(11);
        const int In = 300, Out = 130;
        var w = Bf16Reference.RandomBf16(rng, Out * In);
        var inputs = Enumerable.Range(0, 8).Select(i => Bf16Reference.RandomFloats(new Random(i), (i % 5 + 1) * In)).ToArray();
        var expected = inputs.Select(x => Bf16Reference.MatMul(x, w, x.Length / In, In, Out)).ToArray();
        using var pool = new CpuWorkerPool(3);
        // Several threads call the same pool at once; the pool serializes them, results must not mix.
        Parallel.For(0, 64, new ParallelOptions { MaxDegreeOfParallelism = 4 }, iter =>
        {
            int i = iter % inputs.Length;
            var x = inputs[i];
            int b = x.Length / In;
            var y = new float[b * Out];
            Bf16MatMul.Multiply(x, w, y, b, In, Out, iter % 2 == 0 ? pool : null);
            Bf16Reference.AssertClose(expected[i], y, 1e-4, $"call {iter}");
        });
    }

    [Fact]
    public void PoolDisposeStopsWorkersAndRejectsCalls()
    {
        var pool = new CpuWorkerPool(2);
        var y = new float[8];
        Bf16MatMul.Multiply(new float[2 * 64], new ushort[4 * 64], y, 2, 64, 4, pool);
        pool.Dispose();
        pool.Dispose();
        Assert.Throws<ObjectDisposedException>(() => Bf16MatMul.Multiply(new float[2 * 64], new ushort[400 * 64], new float[800], 2, 64, 400, pool));
    }
}
