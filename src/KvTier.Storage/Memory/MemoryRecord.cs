using System.Runtime.InteropServices;

namespace KvTier.Storage.Memory;

/// <summary>
/// A record's copy in the memory tier: a 4 KiB-aligned native buffer (never moved by the GC, so it can be handed to a
/// device or registered as page-locked). Reference counted: the tier holds one reference while the record is cached,
/// each lease one more; the buffer returns to the pool when the count reaches zero.
/// </summary>
/// <remarks>Thread-safe: the count is atomic; the bytes never change after the copy in.</remarks>
internal sealed unsafe class MemoryRecord
{
    private readonly MemoryTier _tier;
    private int _references = 1;

    internal MemoryRecord(MemoryTier tier, byte* buffer, long bufferSize, int length, ulong sequence, bool verified)
    {
        _tier = tier;
        Buffer = buffer;
        BufferSize = bufferSize;
        Length = length;
        Sequence = sequence;
        Verified = verified;
    }

    /// <summary>Every section of the copy was checked against its checksum before it was cached (a put with verification, or a fully verified get).</summary>
    public bool Verified { get; }

    /// <summary>SAFETY: valid while a reference is held.</summary>
    public byte* Buffer { get; }

    public long BufferSize { get; }

    public int Length { get; }

    /// <summary>The sequence number of the disk record this copies.</summary>
    public ulong Sequence { get; }

    internal LinkedListNode<MemoryRecord>? LruNode { get; set; }

    internal Keys.ChunkKey Key { get; set; }

    public bool TryAcquire()
    {
        while (true)
        {
            int current = Volatile.Read(ref _references);
            if (current == 0)
                return false;
            if (Interlocked.CompareExchange(ref _references, current + 1, current) == current)
                return true;
        }
    }

    public void Release()
    {
        if (Interlocked.Decrement(ref _references) == 0)
            _tier.ReturnBuffer(Buffer, BufferSize);
    }

    internal static byte* Allocate(long size) => (byte*)NativeMemory.AlignedAlloc((nuint)size, 4096);

    internal static void Free(byte* buffer) => NativeMemory.AlignedFree(buffer);
}
