using ILGPU.Runtime;
using KvTier.Format.Elements;
using KvTier.Gpu.Reference;
using KvTier.Layout;
using Xunit;

namespace KvTier.Gpu.Tests.Kernels;

/// <summary>The §10 conversion kernels against their .NET references and the Format library, bit for bit.</summary>
[Collection(CpuAcceleratorCollection.Name)]
public sealed class ElementKernelTests(CpuAcceleratorFixture gpu)
{
    /// <summary>Special binary32 values every size includes: zeros, subnormals, f16 edges and ties, infinities, NaNs.</summary>
    private static readonly uint[] SpecialSingles =
    [
        0x00000000, 0x80000000, 0x00000001, 0x807FFFFF, 0x33000000, 0x33000001, 0x337FFFFF, 0x33800000, 0x387FC000, 0x387FE000,
        0x38800000, 0x38801000, 0x38803000, 0x477FE000, 0x477FEFFF, 0x477FF000, 0x477FF001, 0xC77FF000, 0x7F7FFFFF, 0x7F800000,
        0xFF800000, 0x7FC00000, 0xFFC00001, 0x7F800001, 0x7FBFE000, 0x3F808000, 0x3F818000, 0x3F7FFFFF, 0x3FFFFFFF,
    ];

    private static float[] Singles(int count, int seed)
    {
        var random = new Random(seed);
        var values = new float[count];
        for (int i = 0; i < count; i++)
        {
            values[i] = (i % 3) switch
            {
                0 when i / 3 < SpecialSingles.Length => BitConverter.UInt32BitsToSingle(SpecialSingles[i / 3]),
                0 => BitConverter.UInt32BitsToSingle((uint)random.NextInt64(0, 1L << 32)), // any bits
                1 => (float)((random.NextDouble() * 2 - 1) * Math.Pow(2, random.Next(-30, 18))), // the f16 range and past it
                _ => (float)(random.NextDouble() * 2 - 1),
            };
        }

        return values;
    }

    [Fact]
    public void Every_f16_bit_pattern_widens_as_dotnet_widens_it()
    {
        ushort[] bits = new ushort[65536];
        for (int i = 0; i < bits.Length; i++)
            bits[i] = (ushort)i;
        var expected = new float[bits.Length];
        ElementReference.WidenHalf(bits, expected);
        using MemoryBuffer1D<ushort, Stride1D.Dense> input = gpu.Upload(bits);
        using MemoryBuffer1D<float, Stride1D.Dense> output = gpu.Accelerator.Allocate1D<float>(bits.Length);
        gpu.Kernels.WidenHalf(bits.Length, input.View, output.View);
        Sizes.BitEqual(expected, gpu.Download(output));

        // The Format library's (vectorized) widening agrees too, NaNs included.
        var library = new float[bits.Length];
        ElementConversion.ToSingle(KvElementType.Float16, System.Runtime.InteropServices.MemoryMarshal.AsBytes(bits.AsSpan()), library);
        Sizes.BitEqual(library, expected);
    }

    [Theory]
    [MemberData(nameof(Sizes.TokenData), MemberType = typeof(Sizes))]
    public void Widening_kernels_match_their_references(int count)
    {
        var random = new Random(count);
        ushort[] halves = new ushort[count];
        uint[] singles = new uint[count];
        for (int i = 0; i < count; i++)
        {
            halves[i] = (ushort)random.Next(65536);
            singles[i] = (uint)random.NextInt64(0, 1L << 32);
        }

        using MemoryBuffer1D<ushort, Stride1D.Dense> halfInput = gpu.Upload(halves);
        using MemoryBuffer1D<uint, Stride1D.Dense> singleInput = gpu.Upload(singles);
        using MemoryBuffer1D<float, Stride1D.Dense> output = gpu.Accelerator.Allocate1D<float>(count);
        var expected = new float[count];

        ElementReference.WidenBFloat16(halves, expected);
        gpu.Kernels.WidenBFloat16(count, halfInput.View, output.View);
        Sizes.BitEqual(expected, gpu.Download(output));

        ElementReference.WidenSingle(singles, expected);
        gpu.Kernels.WidenSingle(count, singleInput.View, output.View);
        Sizes.BitEqual(expected, gpu.Download(output));

        ElementReference.WidenHalf(halves, expected);
        gpu.Kernels.WidenHalf(count, halfInput.View, output.View);
        Sizes.BitEqual(expected, gpu.Download(output));
    }

    [Theory]
    [MemberData(nameof(Sizes.TokenData), MemberType = typeof(Sizes))]
    public void Rounding_kernels_match_their_references_and_the_format_library(int count)
    {
        float[] values = Singles(count, count);
        foreach (KvElementType type in new[] { KvElementType.Float16, KvElementType.BFloat16 })
        {
            var expected = (float[])values.Clone();
            if (type == KvElementType.Float16)
                ElementReference.RoundToHalf(expected);
            else
                ElementReference.RoundToBFloat16(expected);
            using MemoryBuffer1D<float, Stride1D.Dense> buffer = gpu.Upload(values);
            (type == KvElementType.Float16 ? gpu.Kernels.RoundToHalf : gpu.Kernels.RoundToBFloat16)(count, buffer.View);
            Sizes.BitEqual(expected, gpu.Download(buffer));

            // What the CPU decoder applies after a lossy decode (NaN aside, which a lossy decode never yields).
            float[] finite = [.. values.Where(v => !float.IsNaN(v))];
            float[] reference = (float[])finite.Clone();
            float[] library = (float[])finite.Clone();
            if (type == KvElementType.Float16)
                ElementReference.RoundToHalf(reference);
            else
                ElementReference.RoundToBFloat16(reference);
            ElementConversion.RoundTo(type, library);
            Sizes.BitEqual(library, reference);
        }
    }

    [Theory]
    [MemberData(nameof(Sizes.TokenData), MemberType = typeof(Sizes))]
    public void Narrowing_kernels_match_their_references(int count)
    {
        float[] values = Singles(count, count + 1);
        var expected = new ushort[count];
        using MemoryBuffer1D<float, Stride1D.Dense> input = gpu.Upload(values);
        using MemoryBuffer1D<ushort, Stride1D.Dense> output = gpu.Accelerator.Allocate1D<ushort>(count);

        ElementReference.NarrowToHalf(values, expected);
        gpu.Kernels.NarrowToHalf(count, input.View, output.View);
        Assert.Equal(expected, gpu.Download(output));

        ElementReference.NarrowToBFloat16(values, expected);
        gpu.Kernels.NarrowToBFloat16(count, input.View, output.View);
        Assert.Equal(expected, gpu.Download(output));
    }
}
