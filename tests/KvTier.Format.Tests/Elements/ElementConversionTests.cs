using System.Buffers.Binary;
using KvTier.Format.Elements;
using KvTier.Layout;
using Xunit;

namespace KvTier.Format.Tests.Elements;

/// <summary>The vectorized f16 and the bf16 conversions are exactly format-spec §10's scalar rules.</summary>
public sealed class ElementConversionTests
{
    [Fact]
    public void Widening_every_f16_bit_pattern_is_the_exact_scalar_widening()
    {
        var bytes = new byte[2 * 65536];
        for (int bits = 0; bits < 65536; bits++)
            BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(2 * bits), (ushort)bits);
        var widened = new float[65536];

        ElementConversion.ToSingle(KvElementType.Float16, bytes, widened);

        for (int bits = 0; bits < 65536; bits++)
        {
            float expected = (float)BitConverter.UInt16BitsToHalf((ushort)bits);
            Assert.True(float.IsNaN(expected) ? float.IsNaN(widened[bits]) : BitConverter.SingleToInt32Bits(expected) == BitConverter.SingleToInt32Bits(widened[bits]), $"f16 0x{bits:X4}");
        }
    }

    [Fact]
    public void Narrowing_to_f16_rounds_to_nearest_even_like_the_scalar_cast()
    {
        var random = new Random(7);
        var values = new List<float> { 0f, -0f, 65504f, 65519.99f, 65520f, -65520f, 1e-8f, -1e-8f, 2.98e-8f, 5.96e-8f, 6.1e-5f, float.PositiveInfinity, float.NegativeInfinity, float.Epsilon };
        // Exact ties between neighbouring binary16 values, and random values of every magnitude.
        for (int h = 0; h < 0x7BFF; h += 97)
            values.Add(((float)BitConverter.UInt16BitsToHalf((ushort)h) + (float)BitConverter.UInt16BitsToHalf((ushort)(h + 1))) / 2);
        for (int i = 0; i < 20000; i++)
            values.Add(BitConverter.Int32BitsToSingle(random.Next()) * (random.Next(2) == 0 ? 1 : -1));
        float[] input = values.Where(v => !float.IsNaN(v)).ToArray();
        var bytes = new byte[2 * input.Length];
        float[] rounded = (float[])input.Clone();

        ElementConversion.FromSingle(KvElementType.Float16, input, bytes);
        ElementConversion.RoundTo(KvElementType.Float16, rounded);

        for (int i = 0; i < input.Length; i++)
        {
            ushort expected = BitConverter.HalfToUInt16Bits((Half)input[i]);
            Assert.Equal(expected, BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(2 * i)));
            Assert.Equal((float)(Half)input[i], rounded[i]);
        }
    }

    [Theory]
    [InlineData(1.0f, 0x3F80)]
    [InlineData(1.00390625f, 0x3F80)] // exactly half-way between 0x3F80 and 0x3F81: ties to even
    [InlineData(1.01171875f, 0x3F82)] // half-way between 0x3F81 and 0x3F82: ties to even
    [InlineData(-2.0f, 0xC000)]
    [InlineData(float.PositiveInfinity, 0x7F80)]
    public void Bfloat16_rounds_to_nearest_even(float value, int expected) =>
        Assert.Equal((ushort)expected, ElementConversion.ToBFloat16(value));

    [Theory]
    [InlineData(0xFF800001u, 0xFFC0)] // a negative signalling NaN
    [InlineData(0x7F800001u, 0x7FC0)] // a positive signalling NaN whose payload would round into infinity
    [InlineData(0x7FFFFFFFu, 0x7FC0)]
    public void Bfloat16_nan_keeps_its_sign_as_the_quiet_nan(uint bits, int expected) =>
        Assert.Equal((ushort)expected, ElementConversion.ToBFloat16(BitConverter.UInt32BitsToSingle(bits)));
}
