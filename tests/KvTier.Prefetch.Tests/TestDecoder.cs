using KvTier.Prefetch.Decoding;

namespace KvTier.Prefetch.Tests;

/// <summary>The CPU decoder behind a hook that runs first (to delay or hold chosen sections); counts calls.</summary>
internal sealed class TestDecoder(Func<int, int, CancellationToken, Task>? before = null) : ISectionDecoder
{
    private int _calls;

    public string Name => "test";

    public int Calls => Volatile.Read(ref _calls);

    public async ValueTask DecodeAsync(StagedSection section, Memory<float> destination, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _calls);
        if (before is not null)
            await before(section.Chunk, section.Layer, cancellationToken);
        CpuSectionDecoder.Decode(section, destination.Span);
    }
}
