using System.Buffers;

namespace KvTier.Storage.Memory;

/// <summary>
/// A <see cref="Memory{T}"/> over native bytes that a lease keeps alive (a memory-tier buffer or a segment mapping).
/// SAFETY: valid only while the owning lease is held; <see cref="RecordLease.Dispose"/> ends it.
/// </summary>
internal sealed unsafe class NativeMemoryManager : MemoryManager<byte>
{
    private readonly byte* _pointer;
    private readonly int _length;

    public NativeMemoryManager(byte* pointer, int length)
    {
        _pointer = pointer;
        _length = length;
    }

    public override Span<byte> GetSpan() => new(_pointer, _length);

    public override MemoryHandle Pin(int elementIndex = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(elementIndex);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(elementIndex, _length);
        return new MemoryHandle(_pointer + elementIndex);
    }

    public override void Unpin()
    {
        // Native memory does not move.
    }

    protected override void Dispose(bool disposing)
    {
        // The lease owns the bytes.
    }
}
