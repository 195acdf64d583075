using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace KvTier.PrefetchBench;

/// <summary>
/// Pinned, page-aligned native memory that the I/O-only path copies sections into, one after another, wrapping at the
/// end: as much memory as the prefetcher's staging budget, touched once up front, so that the copy costs what a copy
/// into staging costs (cache-cold destination, no page faults) and nothing more.
/// </summary>
/// <remarks>Used by one thread at a time.</remarks>
internal sealed unsafe class StagingRing : IDisposable
{
    private readonly byte* _start;
    private readonly long _length;
    private long _cursor;

    public StagingRing(long length)
    {
        // SAFETY: owned by this object, freed once in Dispose; never handed out beyond one Copy call.
        _start = (byte*)NativeMemory.AlignedAlloc((nuint)length, 4096);
        _length = length;
        new Span<byte>(_start, checked((int)length)).Clear(); // Fault every page in now.
    }

    /// <summary>Copies <paramref name="payload"/> to the next free place (the start again when it does not fit).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Copy(ReadOnlySpan<byte> payload)
    {
        if (payload.Length > _length)
            throw new ArgumentException($"A {payload.Length}-byte section does not fit a {_length}-byte ring.", nameof(payload));
        if (_cursor + payload.Length > _length)
            _cursor = 0;
        payload.CopyTo(new Span<byte>(_start + _cursor, payload.Length));
        _cursor += (payload.Length + 4095) & ~4095L; // Page-aligned like the staging blocks.
    }

    public void Dispose() => NativeMemory.AlignedFree(_start);
}
