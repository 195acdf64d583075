using ILGPU;
using ILGPU.Runtime;
using KvTier.Gpu.Kernels;
using KvTier.Gpu.Reference;
using KvTier.Layout;

namespace KvTier.Gpu;

/// <summary>
/// Re-rotates decoded K on the device from the positions it was stored at to new target positions (blending), by
/// <see cref="RopeKernels.Rerotate"/>; the angle table is built on the host by <see cref="RopeReference.BuildAngles"/>.
/// Not thread-safe (the accelerator's default stream); the caller owns the accelerator.
/// </summary>
public sealed class GpuRopeRerotator
{
    private readonly Accelerator _accelerator;
    private readonly Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, RopeShape> _rerotate;

    /// <summary>Compiles the kernel for <paramref name="accelerator"/>.</summary>
    public GpuRopeRerotator(Accelerator accelerator)
    {
        ArgumentNullException.ThrowIfNull(accelerator);
        _accelerator = accelerator;
        _rerotate = accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, RopeShape>(RopeKernels.Rerotate);
    }

    /// <summary>
    /// Re-rotates <paramref name="keys"/> (tokens × KV width binary32, row-major, on the device) in place: token t moves
    /// from <paramref name="sourcePositions"/>[t] to <paramref name="targetPositions"/>[t]. Complete on return.
    /// </summary>
    /// <remarks>Only K stored after RoPE (<see cref="KvLayout.KeysStoredAfterRope"/>) needs this; K stored before RoPE is position-free.</remarks>
    /// <exception cref="ArgumentException">The layout has no RoPE, or the lengths do not match.</exception>
    public void Rerotate(ArrayView<float> keys, KvLayout layout, ReadOnlySpan<int> sourcePositions, ReadOnlySpan<int> targetPositions)
    {
        ArgumentNullException.ThrowIfNull(layout);
        int tokens = sourcePositions.Length;
        if (keys.Length != (long)tokens * layout.KvDim)
            throw new ArgumentException($"K holds {keys.Length} values; {tokens} tokens of width {layout.KvDim} need {(long)tokens * layout.KvDim}.", nameof(keys));
        var shape = new RopeShape(tokens, layout.KvHeads, layout.HeadDim, layout.Rope.RotaryDims, (int)layout.Rope.Pairing);
        if (shape.Threads > int.MaxValue)
            throw new ArgumentOutOfRangeException(nameof(keys), keys.Length, "One launch re-rotates at most 2^31 − 1 pairs; split K into fewer tokens.");
        var cos = new float[tokens * shape.Pairs];
        var sin = new float[cos.Length];
        RopeReference.BuildAngles(layout.Rope, sourcePositions, targetPositions, cos, sin);
        if (shape.Threads == 0)
            return;

        Accelerator accelerator = _accelerator;
        using MemoryBuffer1D<float, Stride1D.Dense> cosBuffer = accelerator.Allocate1D(cos);
        using MemoryBuffer1D<float, Stride1D.Dense> sinBuffer = accelerator.Allocate1D(sin);
        _rerotate((int)shape.Threads, keys, cosBuffer.View, sinBuffer.View, shape);
        accelerator.Synchronize();
    }
}
