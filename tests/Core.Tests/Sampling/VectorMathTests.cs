using Llama4Cluster.Core.Sampling;

namespace Llama4Cluster.Core.Tests.Sampling;

public sealed class VectorMathTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(8)]
    [InlineData(13)]
    [InlineData(1_001)]
    public void ExpShiftedMatchesScalarExpAndMapsTheShiftToExpOfZero(int length)
    {
        var values = SamplingReference.RandomLogits(length, seed: length);
        var max = values.Max();
        var result = (float[])values.Clone();

        VectorMath.ExpShifted(result, max);

        for (var i = 0; i < length; i++)
        {
            Assert.Equal(Math.Exp(values[i] - max), result[i], 1e-6);
            if (values[i] == max)
            {
                // min-p relies on the maximum's weight being exactly ExpOfZero.
                Assert.Equal(VectorMath.ExpOfZero, result[i]);
            }
        }
    }

    [Fact]
    public void ExpShiftedMapsNegativeInfinityToZero()
    {
        float[] values = [0f, float.NegativeInfinity, 1f, float.NegativeInfinity, 0f, 0f, 0f, 0f, float.NegativeInfinity];

        VectorMath.ExpShifted(values, 1f);

        Assert.Equal(0f, values[1]);
        Assert.Equal(0f, values[3]);
        Assert.Equal(0f, values[8]);
        Assert.Equal(VectorMath.ExpOfZero, values[2]);
        Assert.Equal(1f, VectorMath.ExpOfZero, 1e-6f);
    }

    [Theory]
    [InlineData(5)]
    [InlineData(64)]
    [InlineData(1_003)]
    public void SumExpShiftedMatchesDoubleReference(int length)
    {
        var values = SamplingReference.RandomLogits(length, seed: 3 * length);
        var max = values.Max();

        var sum = VectorMath.SumExpShifted(values, max);

        var expected = values.Sum(x => Math.Exp(x - max));
        Assert.Equal(expected, sum, 1e-6 * expected);
    }

    [Theory]
    [InlineData(3, 2)]
    [InlineData(40, 0)]
    [InlineData(40, 37)]
    [InlineData(40, 39)]
    public void MaxOrFirstNonFiniteFindsTheMaximumOrTheFirstBadIndex(int length, int badIndex)
    {
        var values = SamplingReference.RandomLogits(length, seed: 5);

        Assert.Equal(values.Max(), VectorMath.MaxOrFirstNonFinite(values, out var none));
        Assert.Equal(-1, none);

        values[badIndex] = float.NaN;
        values[length - 1] = float.PositiveInfinity;
        VectorMath.MaxOrFirstNonFinite(values, out var first);
        Assert.Equal(badIndex, first);
    }
}
