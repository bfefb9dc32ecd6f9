using Llama4Cluster.Kernels.Checkpoints;

namespace Llama4Cluster.Kernels.Tests.Checkpoints;

public sealed class FloatFormatsTests
{
    [Theory]
    [InlineData((ushort)0x3F80, 1.0f)]
    [InlineData((ushort)0xC000, -2.0f)]
    [InlineData((ushort)0x4049, 3.140625f)]
    [InlineData((ushort)0x0000, 0.0f)]
    [InlineData((ushort)0x7F80, float.PositiveInfinity)]
    [InlineData((ushort)0x3E80, 0.25f)]
    public void BFloat16Decodes(ushort bits, float expected) => Assert.Equal(expected, FloatFormats.BFloat16ToSingle(bits));

    [Fact]
    public void BFloat16EncodesRoundToNearestEven()
    {
        Assert.Equal((ushort)0x3F80, FloatFormats.SingleToBFloat16(1.0f));
        // 1 + 2^-8 lies halfway between 0x3F80 (1.0) and 0x3F81: ties go to the even code 0x3F80.
        Assert.Equal((ushort)0x3F80, FloatFormats.SingleToBFloat16(1f + MathF.Pow(2, -8)));
        // 1 + 3·2^-8 lies halfway between 0x3F81 and 0x3F82: even is 0x3F82.
        Assert.Equal((ushort)0x3F82, FloatFormats.SingleToBFloat16(1f + 3 * MathF.Pow(2, -8)));
        // Just above the halfway point rounds up.
        Assert.Equal((ushort)0x3F81, FloatFormats.SingleToBFloat16(BitConverter.Int32BitsToSingle(0x3F808001)));
        Assert.Equal((ushort)0x4049, FloatFormats.SingleToBFloat16(MathF.PI));
        Assert.True(float.IsNaN(FloatFormats.BFloat16ToSingle(FloatFormats.SingleToBFloat16(float.NaN))));
    }

    [Theory]
    [InlineData((ushort)0x3C00, 1.0f)]
    [InlineData((ushort)0xC000, -2.0f)]
    [InlineData((ushort)0x7BFF, 65504f)]
    [InlineData((ushort)0x0001, 5.9604645e-8f)] // 2^-24, smallest subnormal
    [InlineData((ushort)0x3555, 0.33325195f)]
    public void HalfDecodes(ushort bits, float expected) => Assert.Equal(expected, FloatFormats.HalfToSingle(bits));

    [Theory]
    [InlineData((byte)0x00, 0f)]
    [InlineData((byte)0x38, 1f)]      // exponent 7 (bias 7), mantissa 0
    [InlineData((byte)0x3C, 1.5f)]    // mantissa 4/8
    [InlineData((byte)0x40, 2f)]
    [InlineData((byte)0xB8, -1f)]
    [InlineData((byte)0xC0, -2f)]
    [InlineData((byte)0x7E, 448f)]    // largest finite
    [InlineData((byte)0x77, 240f)]    // 1.875 · 2^7
    [InlineData((byte)0x08, 0.015625f)] // smallest normal 2^-6
    [InlineData((byte)0x01, 0.001953125f)] // smallest subnormal 2^-9
    [InlineData((byte)0x07, 0.013671875f)] // largest subnormal 7/8 · 2^-6
    [InlineData((byte)0x78, 256f)]    // exponent 15 is finite in the fn variant
    public void E4M3Decodes(byte bits, float expected) => Assert.Equal(expected, FloatFormats.E4M3ToSingle(bits));

    [Fact]
    public void E4M3HasNoInfinityAndTwoNaNs()
    {
        Assert.True(float.IsNaN(FloatFormats.E4M3ToSingle(0x7F)));
        Assert.True(float.IsNaN(FloatFormats.E4M3ToSingle(0xFF)));
        int finite = Enumerable.Range(0, 256).Count(b => float.IsFinite(FloatFormats.E4M3ToSingle((byte)b)));
        Assert.Equal(254, finite);
        Assert.Equal(-0f, FloatFormats.E4M3ToSingle(0x80));
        Assert.True(float.IsNegative(FloatFormats.E4M3ToSingle(0x80)));
    }

    [Fact]
    public void E4M3EncodesRoundToNearestAndSaturates()
    {
        // Every finite code round-trips.
        for (int b = 0; b < 256; b++)
        {
            float v = FloatFormats.E4M3ToSingle((byte)b);
            if (float.IsNaN(v)) continue;
            Assert.Equal((byte)b, FloatFormats.SingleToE4M3(v));
        }
        Assert.Equal((byte)0x38, FloatFormats.SingleToE4M3(1.0625f));  // tie between 0x38 and 0x39 → even 0x38
        Assert.Equal((byte)0x3A, FloatFormats.SingleToE4M3(1.1875f));  // tie between 0x39 and 0x3A → even 0x3A
        Assert.Equal((byte)0x39, FloatFormats.SingleToE4M3(1.1f));     // nearest 1.125
        Assert.Equal((byte)0x7E, FloatFormats.SingleToE4M3(500f));     // saturates at 448
        Assert.Equal((byte)0xFE, FloatFormats.SingleToE4M3(-1e9f));
        Assert.Equal((byte)0x7F, FloatFormats.SingleToE4M3(float.NaN));
        Assert.Equal((byte)0x00, FloatFormats.SingleToE4M3(0.0009f));  // below half the smallest subnormal
        Assert.Equal((byte)0x01, FloatFormats.SingleToE4M3(0.0015f));
    }

    [Theory]
    [InlineData((byte)0x3C, 1f)]
    [InlineData((byte)0xC0, -2f)]
    [InlineData((byte)0x7B, 57344f)]
    [InlineData((byte)0x01, 1.5258789e-5f)] // 2^-16
    [InlineData((byte)0x7C, float.PositiveInfinity)]
    public void E5M2Decodes(byte bits, float expected) => Assert.Equal(expected, FloatFormats.E5M2ToSingle(bits));

    [Fact]
    public void EveryDTypeDecodesToSingle()
    {
        float[] Decode(SafetensorsDType dt, byte[] bytes)
        {
            var result = new float[bytes.Length / SafetensorsDTypes.ElementSize(dt)];
            FloatFormats.DecodeToSingle(dt, bytes, result);
            return result;
        }
        Assert.Equal([1f, 0f], Decode(SafetensorsDType.BOOL, [1, 0]));
        Assert.Equal([255f, 7f], Decode(SafetensorsDType.U8, [255, 7]));
        Assert.Equal([-5f, 127f], Decode(SafetensorsDType.I8, [0xFB, 0x7F]));
        Assert.Equal([-2f], Decode(SafetensorsDType.I16, [0xFE, 0xFF]));
        Assert.Equal([65536f], Decode(SafetensorsDType.I32, BitConverter.GetBytes(65536)));
        Assert.Equal([-3f], Decode(SafetensorsDType.I64, BitConverter.GetBytes(-3L)));
        Assert.Equal([1f, -2f], Decode(SafetensorsDType.F16, [0x00, 0x3C, 0x00, 0xC0]));
        Assert.Equal([1f, 3.140625f], Decode(SafetensorsDType.BF16, [0x80, 0x3F, 0x49, 0x40]));
        Assert.Equal([0.1f], Decode(SafetensorsDType.F32, BitConverter.GetBytes(0.1f)));
        Assert.Equal([0.25f], Decode(SafetensorsDType.F64, BitConverter.GetBytes(0.25)));
        Assert.Equal([1f, -448f], Decode(SafetensorsDType.F8_E4M3, [0x38, 0xFE]));
        Assert.Equal([1f, -2f], Decode(SafetensorsDType.F8_E5M2, [0x3C, 0xC0]));
    }

    [Fact]
    public void ElementSizes()
    {
        Assert.Equal(1, SafetensorsDTypes.ElementSize(SafetensorsDType.F8_E4M3));
        Assert.Equal(2, SafetensorsDTypes.ElementSize(SafetensorsDType.BF16));
        Assert.Equal(4, SafetensorsDTypes.ElementSize(SafetensorsDType.F32));
        Assert.Equal(8, SafetensorsDTypes.ElementSize(SafetensorsDType.I64));
        Assert.True(SafetensorsDTypes.TryParse("F8_E4M3", out var d) && d == SafetensorsDType.F8_E4M3);
        Assert.False(SafetensorsDTypes.TryParse("bf16", out _)); // case-sensitive, as the format is
    }
}
