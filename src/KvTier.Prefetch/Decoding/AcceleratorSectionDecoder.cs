using ILGPU;
using ILGPU.Runtime;
using KvTier.Format;
using KvTier.Gpu;

namespace KvTier.Prefetch.Decoding;

/// <summary>
/// Decodes sections on an ILGPU accelerator (KvTier.Gpu's <see cref="GpuSectionDecoder"/>) into the caller's host
/// destination (<see cref="DecodeAsync"/>) or a device buffer on the same accelerator (<see cref="DecodeToDeviceAsync"/>,
/// for <see cref="KvDestination.OnDevice"/>), bit for bit what <see cref="CpuSectionDecoder"/> gives. In production the accelerator is a CUDA or OpenCL
/// device chosen by <see cref="SectionDecoders.Best"/>; ILGPU's CPU accelerator is for tests only (about 100 times slower
/// than the CPU decoder).
/// </summary>
/// <remarks>
/// <para>
/// Concurrency: <see cref="DecodeAsync"/> and <see cref="DecodeToDeviceAsync"/> may be called from any number of decode workers; <see cref="GpuSectionDecoder"/>
/// launches on the accelerator's default stream and is not thread-safe, so <c>_gate</c> (an async semaphore, so that
/// waiting workers hold no thread) lets one section at a time onto the device. Several prefetch requests therefore share
/// one device queue; the device, not the host, is the bottleneck it serializes. <see cref="Register"/> may run at the
/// same time as a decode (host-memory registration does not touch the stream).
/// </para>
/// <para>
/// Sections are decoded from their staged copy (<see cref="StagedSection.Payload"/>, checked by the read stage) with
/// <see cref="GpuSectionDecoder.DecodePayload(ChunkRecord, int, SectionKind, ReadOnlySpan{byte})"/>: no second hash, and
/// the host-to-device copy reads page-locked memory where <see cref="Register"/> registered the block.
/// </para>
/// </remarks>
public sealed class AcceleratorSectionDecoder : ISectionDecoder, IStagingMemoryRegistrar, IDisposable
{
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly GpuSectionDecoder _decoder;
    private readonly Context? _ownedContext;
    private readonly bool _ownsAccelerator;
    private volatile bool _pageLockUnsupported;
    private volatile bool _disposed;

    /// <summary>Compiles the decode kernels for <paramref name="accelerator"/> (slow the first time: ILGPU generates code).</summary>
    /// <param name="accelerator">The accelerator to decode on; a CUDA or OpenCL one in production (see <see cref="AcceleratorSelection"/>).</param>
    /// <param name="ownsAccelerator">Whether <see cref="Dispose"/> disposes the accelerator too. Default: false (the caller disposes it after this decoder).</param>
    /// <exception cref="PlatformNotSupportedException">The host is big-endian.</exception>
    public AcceleratorSectionDecoder(Accelerator accelerator, bool ownsAccelerator = false)
        : this(accelerator, ownsAccelerator, null)
    {
    }

    /// <summary>As the public constructor; the decoder also disposes <paramref name="ownedContext"/> (the context <paramref name="accelerator"/> came from), after the accelerator.</summary>
    internal AcceleratorSectionDecoder(Accelerator accelerator, bool ownsAccelerator, Context? ownedContext)
    {
        ArgumentNullException.ThrowIfNull(accelerator);
        _decoder = new GpuSectionDecoder(accelerator);
        _ownsAccelerator = ownsAccelerator;
        _ownedContext = ownedContext;
        Name = accelerator.AcceleratorType switch
        {
            AcceleratorType.Cuda => "cuda",
            AcceleratorType.OpenCL => "opencl",
            AcceleratorType.CPU => "ilgpu-cpu",
            _ => "ilgpu-" + accelerator.AcceleratorType.ToString().ToLowerInvariant(),
        };
    }

    /// <inheritdoc/>
    /// <remarks>"cuda", "opencl", or "ilgpu-cpu" for ILGPU's CPU accelerator (tests only).</remarks>
    public string Name { get; }

    /// <summary>The accelerator decoded on.</summary>
    public Accelerator Accelerator => _decoder.Accelerator;

    /// <summary>Whether the accelerator is ILGPU's CPU accelerator (for tests; never chosen by <see cref="SectionDecoders.Best"/>).</summary>
    public bool IsCpuAccelerator => Accelerator.AcceleratorType == AcceleratorType.CPU;

    /// <summary>Whether the accelerator accepted host-memory registrations so far (false once one was refused as unsupported).</summary>
    public bool PageLockingSupported => !_pageLockUnsupported;

    /// <inheritdoc/>
    /// <exception cref="ObjectDisposedException">The decoder is disposed.</exception>
    public async ValueTask DecodeAsync(StagedSection section, Memory<float> destination, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (destination.Length != section.ElementCount)
            throw new ArgumentException($"Destination holds {destination.Length} values; the section has {section.ElementCount}.", nameof(destination));
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            cancellationToken.ThrowIfCancellationRequested();
            // The worker may be on any pool thread: make the accelerator's context current on it before launching.
            Accelerator.Bind();
            // From the staged copy (checked by the read stage; page-locked when registered): no second hash, DMA upload.
            _decoder.DecodePayload(section.Record, section.Layer, section.Kind, section.Payload, destination.Span);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>
    /// Decodes <paramref name="section"/> into <paramref name="destination"/> on this decoder's accelerator: the decoded
    /// values never visit the host. This is how a prefetcher fills a <see cref="KvDestination.OnDevice"/> destination.
    /// The copy has completed on return.
    /// </summary>
    /// <param name="section">The staged section.</param>
    /// <param name="destination">Exactly <see cref="StagedSection.ElementCount"/> values, in a buffer of <see cref="Accelerator"/>.</param>
    /// <param name="cancellationToken">Cancels the wait for the device (a launched decode runs to its end).</param>
    /// <exception cref="ArgumentException"><paramref name="destination"/> has the wrong length or lives on another accelerator.</exception>
    /// <exception cref="ChunkRecordException">The payload is malformed.</exception>
    /// <exception cref="ObjectDisposedException">The decoder is disposed.</exception>
    public async ValueTask DecodeToDeviceAsync(StagedSection section, ArrayView1D<float, Stride1D.Dense> destination, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (destination.Length != section.ElementCount)
            throw new ArgumentException($"Destination holds {destination.Length} values; the section has {section.ElementCount}.", nameof(destination));
        if (destination.GetAccelerator() != Accelerator)
            throw new ArgumentException("The destination is a buffer of another accelerator.", nameof(destination));
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            cancellationToken.ThrowIfCancellationRequested();
            Accelerator.Bind();
            // Straight into the destination's rows: no intermediate buffer, no device-to-device copy.
            _decoder.DecodePayload(section.Record, section.Layer, section.Kind, section.Payload, destination);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <inheritdoc/>
    /// <remarks>
    /// Through ILGPU's <see cref="Accelerator.CreatePageLockFromPinned{T}(IntPtr, long)"/>: <c>cuMemHostRegister</c> on
    /// CUDA; a no-op scope on ILGPU's CPU accelerator; OpenCL has no registration of existing memory in ILGPU 1.5, so
    /// the first refusal turns registration off for this decoder and every later call returns null at once.
    /// </remarks>
    public IDisposable? Register(nint address, long length)
    {
        if (_pageLockUnsupported || _disposed || address == 0 || length < 1)
            return null;
        try
        {
            Accelerator.Bind();
            // SAFETY: the caller (the staging pool) keeps the native block allocated and unmoved until the returned
            // registration is disposed; the element type is byte, so the length is in bytes.
            PageLockScope<byte> scope = Accelerator.CreatePageLockFromPinned<byte>(address, length);
            return new Registration(this, scope);
        }
        catch (Exception ex) when (ex is NotSupportedException or AcceleratorException)
        {
            // The device cannot register host memory (or refused this block): copies then go through the driver's own
            // staging, as without registration. Stop trying: each refusal costs a driver call.
            _pageLockUnsupported = true;
            return null;
        }
    }

    /// <summary>
    /// Waits for a decode in progress, then frees the compiled kernels' accelerator if this decoder owns it. Dispose
    /// after every <see cref="Prefetcher"/> using it (a prefetcher disposes a decoder it created itself).
    /// </summary>
    public void Dispose()
    {
        if (_disposed)
            return;
        _gate.Wait();
        try
        {
            if (_disposed)
                return;
            _disposed = true;
            _decoder.Dispose(); // Its reused device buffers, before the accelerator that holds them.
            if (_ownsAccelerator)
                Accelerator.Dispose();
            _ownedContext?.Dispose();
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>One block's page lock; ended before the block is freed, and never after the accelerator is gone.</summary>
    private sealed class Registration(AcceleratorSectionDecoder owner, PageLockScope<byte> scope) : IDisposable
    {
        public void Dispose()
        {
            if (owner.Accelerator.IsDisposed)
                return; // The accelerator's context, and with it the registration, is already gone.
            try
            {
                owner.Accelerator.Bind();
                scope.Dispose();
            }
            catch (AcceleratorException)
            {
                // The driver refused to unregister (device lost): the block is freed regardless, and nothing else can be done.
            }
        }
    }
}
