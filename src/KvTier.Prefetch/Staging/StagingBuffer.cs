using System.Runtime.InteropServices;

namespace KvTier.Prefetch.Staging;

/// <summary>
/// One pinned, 4 KiB-aligned native block of staging memory, owned by a <see cref="StagingPool"/> and rented to one
/// section at a time.
/// </summary>
/// <remarks>Used by one pipeline stage at a time (the reader fills it, then one decoder reads it, then it is returned).</remarks>
internal sealed unsafe class StagingBuffer
{
    internal StagingBuffer(int capacity, bool pooled)
    {
        // SAFETY: native memory never moves, so the block is pinned for its whole life (a device may DMA from it); the
        // pool frees it exactly once, when it trims or is disposed, never while it is rented.
        Pointer = (byte*)NativeMemory.AlignedAlloc((nuint)capacity, StagingPool.Alignment);
        Capacity = capacity;
        Pooled = pooled;
    }

    /// <summary>The block's start. SAFETY: valid while the buffer is rented (or cached in the pool).</summary>
    internal byte* Pointer { get; private set; }

    /// <summary>The block's start as an address (for device registration). SAFETY: as <see cref="Pointer"/>.</summary>
    internal nint Address => (nint)Pointer;

    /// <summary>Bytes in the block.</summary>
    internal int Capacity { get; }

    /// <summary>False for a block sized to one odd payload, freed on return instead of cached.</summary>
    internal bool Pooled { get; }

    /// <summary>
    /// The block's registration with the decoder's device (page lock), or null. Ended in <see cref="Free"/>, before the
    /// memory is.
    /// </summary>
    internal IDisposable? Registration { get; set; }

    /// <summary>Bytes of payload staged in it.</summary>
    internal int Length { get; set; }

    /// <summary>The staged payload.</summary>
    internal ReadOnlySpan<byte> Payload => new(Pointer, Length);

    /// <summary>The whole block, for filling.</summary>
    internal Span<byte> Block => new(Pointer, Capacity);

    internal void Free()
    {
        Registration?.Dispose();
        Registration = null;
        NativeMemory.AlignedFree(Pointer);
        Pointer = null;
    }
}
