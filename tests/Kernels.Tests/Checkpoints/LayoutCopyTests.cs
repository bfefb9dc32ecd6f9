using Llama4Cluster.Kernels.Checkpoints;
using Llama4Cluster.Kernels.Cpu;
using TorchSharp;

namespace Llama4Cluster.Kernels.Tests.Checkpoints;

public sealed class LayoutCopyTests
{
    [Theory]
    [InlineData(64, 128, 2, 2)]  // 8 × 8 SIMD blocks, several destination blocks
    [InlineData(48, 264, 2, 2)]  // a partial 128-row destination block
    [InlineData(5, 7, 2, 2)]     // scalar tiles
    [InlineData(40, 33, 1, 1)]
    [InlineData(33, 40, 4, 4)]
    [InlineData(9, 17, 8, 8)]
    [InlineData(64, 96, 2, 4)]   // BF16 → F32, SIMD
    [InlineData(7, 12, 2, 4)]    // BF16 → F32, scalar
    public void TransposesEachExpertLikeTorch(int rows, int cols, int sourceSize, int destinationSize)
    {
        var sourceType = sourceSize switch { 1 => torch.ScalarType.Byte, 2 => torch.ScalarType.BFloat16, 4 => torch.ScalarType.Float32, _ => torch.ScalarType.Float64 };
        var destinationType = destinationSize == sourceSize ? sourceType : torch.ScalarType.Float32;
        using var scope = torch.NewDisposeScope();
        var gen = new torch.Generator(17);
        var all = sourceType == torch.ScalarType.Byte
            ? torch.randint(0, 256, [4, rows, cols], dtype: torch.ScalarType.Byte, generator: gen)
            : torch.randn([4, rows, cols], generator: gen).to(sourceType);
        int[] experts = [2, 0, 3];
        var src = all.contiguous();
        long perExpert = (long)rows * cols * sourceSize;
        var sources = experts.Select(e => TensorData.Pointer(src) + (nint)(e * perExpert)).ToArray();
        var got = torch.empty([experts.Length, cols, rows], destinationType);

        LayoutCopy.TransposeExperts(sources, rows, cols, sourceSize, destinationSize, TensorData.Pointer(got), threads: 2);

        var index = torch.tensor(experts.Select(e => (long)e).ToArray(), torch.ScalarType.Int64);
        var want = all.index_select(0, index).transpose(1, 2).to(destinationType).contiguous();
        Assert.True(InPlaceLoadingTests.Same(want, got));
    }

    [Fact]
    public void RejectsAConversionItDoesNotKnow() =>
        Assert.Throws<ArgumentException>(() => LayoutCopy.TransposeExperts([], 8, 8, 4, 2, 0, threads: 1));
}
