using ILGPU;
using ILGPU.Runtime.CPU;
using KvTier.Gpu;
using KvTier.Prefetch.Decoding;
using Xunit;

namespace KvTier.Prefetch.Tests;

/// <summary>
/// One <see cref="AcceleratorSectionDecoder"/> over ILGPU's CPU accelerator (test-only: ~100 times slower than the CPU
/// decoder, so layouts stay tiny), shared by every test that uses it because compiling the kernels is the slow part.
/// </summary>
public sealed class AcceleratorDecoderFixture : IDisposable
{
    public AcceleratorDecoderFixture()
    {
        Context = Context.Create(builder => builder.CPU());
        Decoder = new AcceleratorSectionDecoder(AcceleratorSelection.CreateCpuForTests(Context), ownsAccelerator: true);
    }

    public Context Context { get; }

    public AcceleratorSectionDecoder Decoder { get; }

    public void Dispose()
    {
        Decoder.Dispose();
        Context.Dispose();
    }
}

[CollectionDefinition(Name)]
public sealed class AcceleratorDecoderCollection : ICollectionFixture<AcceleratorDecoderFixture>
{
    public const string Name = "ILGPU CPU accelerator decoder";
}

/// <summary>An inner decoder behind a hook that runs first (to hold chosen sections); forwards staging registration.</summary>
internal sealed class HeldDecoder(ISectionDecoder inner, Func<int, int, CancellationToken, Task> before) : ISectionDecoder, IStagingMemoryRegistrar
{
    public string Name => inner.Name;

    public async ValueTask DecodeAsync(StagedSection section, Memory<float> destination, CancellationToken cancellationToken)
    {
        await before(section.Chunk, section.Layer, cancellationToken);
        await inner.DecodeAsync(section, destination, cancellationToken);
    }

    public IDisposable? Register(nint address, long length) => (inner as IStagingMemoryRegistrar)?.Register(address, length);
}
