using ILGPU;
using ILGPU.Runtime;
using KvTier.Gpu;
using Xunit;

namespace KvTier.Gpu.Tests;

/// <summary>One ILGPU CPU accelerator, its compiled kernels and a section decoder, shared by every test (compiling is the slow part).</summary>
public sealed class CpuAcceleratorFixture : IDisposable
{
    public CpuAcceleratorFixture()
    {
        Context = Context.Create(builder => builder.CPU());
        Accelerator = AcceleratorSelection.CreateCpuForTests(Context);
        Kernels = new GpuKernels(Accelerator);
        Decoder = new GpuSectionDecoder(Accelerator);
        Rerotator = new GpuRopeRerotator(Accelerator);
    }

    public Context Context { get; }

    public Accelerator Accelerator { get; }

    internal GpuKernels Kernels { get; }

    public GpuSectionDecoder Decoder { get; }

    public GpuRopeRerotator Rerotator { get; }

    /// <summary>Copies <paramref name="data"/> to a new device buffer.</summary>
    public MemoryBuffer1D<T, Stride1D.Dense> Upload<T>(T[] data)
        where T : unmanaged => Accelerator.Allocate1D(data);

    /// <summary>The buffer's contents, after every launch has finished.</summary>
    public T[] Download<T>(MemoryBuffer1D<T, Stride1D.Dense> buffer)
        where T : unmanaged
    {
        Accelerator.Synchronize();
        return buffer.GetAsArray1D();
    }

    public void Dispose()
    {
        Decoder.Dispose();
        Accelerator.Dispose();
        Context.Dispose();
    }
}

/// <summary>Every test class shares one accelerator and runs one at a time (launches share its default stream).</summary>
[CollectionDefinition(Name)]
public sealed class CpuAcceleratorCollection : ICollectionFixture<CpuAcceleratorFixture>
{
    public const string Name = "ILGPU CPU accelerator";
}

/// <summary>Sizes and bit comparisons shared by the tests.</summary>
internal static class Sizes
{
    /// <summary>Odd token counts (STYLE.md, "GPU kernels").</summary>
    public static readonly int[] Tokens = [1, 17, 1025, 8197];

    public static TheoryData<int> TokenData()
    {
        var data = new TheoryData<int>();
        foreach (int t in Tokens)
            data.Add(t);
        return data;
    }

    /// <summary>Asserts bit equality (NaN payloads and signed zeros included), naming the first differing index.</summary>
    public static void BitEqual(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            uint e = BitConverter.SingleToUInt32Bits(expected[i]);
            uint a = BitConverter.SingleToUInt32Bits(actual[i]);
            if (e != a)
                Assert.Fail($"element {i}: expected {expected[i]} (0x{e:X8}), got {actual[i]} (0x{a:X8}).");
        }
    }
}
