using ILGPU;
using ILGPU.Runtime;

namespace KvTier.Gpu;

/// <summary>
/// One grow-only device buffer reused from section to section, so that a steady stream of decodes allocates nothing on
/// the device (a device allocation, and above all a free, costs far more than a small section's kernels on CUDA).
/// </summary>
/// <remarks>Not thread-safe: owned by one <see cref="GpuSectionDecoder"/>, whose calls never overlap.</remarks>
internal sealed class DeviceScratch<T> : IDisposable
    where T : unmanaged
{
    private MemoryBuffer1D<T, Stride1D.Dense>? _buffer;

    /// <summary>Device bytes held.</summary>
    public long Bytes => _buffer is null ? 0 : _buffer.LengthInBytes;

    /// <summary>
    /// A view of exactly <paramref name="length"/> elements (at least one is allocated), growing the buffer to the next
    /// power of two when it is too small. The contents are whatever the last use left.
    /// </summary>
    public ArrayView1D<T, Stride1D.Dense> Get(Accelerator accelerator, long length)
    {
        if (_buffer is null || _buffer.Length < Math.Max(length, 1))
        {
            _buffer?.Dispose();
            _buffer = null; // Stays null if the allocation below throws (out of device memory).
            long capacity = (long)System.Numerics.BitOperations.RoundUpToPowerOf2((ulong)Math.Max(length, 1));
            _buffer = accelerator.Allocate1D<T>(capacity);
        }
        return _buffer.View.SubView(0, length);
    }

    /// <summary>Copies <paramref name="data"/> to the device and returns the view holding it.</summary>
    public ArrayView1D<T, Stride1D.Dense> Upload(Accelerator accelerator, ReadOnlySpan<T> data)
    {
        ArrayView1D<T, Stride1D.Dense> view = Get(accelerator, data.Length);
        if (data.Length > 0)
            view.CopyFromCPU(accelerator.DefaultStream, data);
        return view;
    }

    public void Dispose()
    {
        _buffer?.Dispose();
        _buffer = null;
    }
}
