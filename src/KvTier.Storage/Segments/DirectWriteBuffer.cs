using System.Runtime.InteropServices;

namespace KvTier.Storage.Segments;

/// <summary>
/// The writer's 4 KiB-aligned staging buffer for <c>O_DIRECT</c> appends (<see cref="SegmentFile.AppendRecord"/>).
/// </summary>
/// <remarks>Owned by the writer thread; not thread-safe.</remarks>
internal sealed unsafe class DirectWriteBuffer : IDisposable
{
    /// <summary>8 MiB: large enough that each direct write reaches the device's sequential speed.</summary>
    public const int Size = 8 << 20;

    public DirectWriteBuffer()
    {
        Pointer = (byte*)NativeMemory.AlignedAlloc(Size, SegmentFormat.BlockSize);
    }

    /// <summary>SAFETY: valid until <see cref="Dispose"/>; only the writer thread uses it.</summary>
    public byte* Pointer { get; private set; }

    public Span<byte> Span => new(Pointer, Size);

    public void Dispose()
    {
        if (Pointer != null)
        {
            NativeMemory.AlignedFree(Pointer);
            Pointer = null;
        }
    }
}
