namespace KvTier.Prefetch.Decoding;

/// <summary>
/// A decoder that wants the prefetcher's staging blocks registered with its device, so that copies from them run as
/// DMA from page-locked memory instead of through a driver bounce buffer (issue 5 §1: "page-locked through ILGPU when a
/// GPU accelerator is used"). A <see cref="Prefetcher"/> whose <see cref="PrefetcherOptions.Decoder"/> implements it
/// registers every staging block once, when the block is allocated, and ends the registration just before the block is
/// freed; cached blocks stay registered between requests, because registering costs far more than a copy.
/// </summary>
/// <remarks>
/// Called from the prefetcher's reader and decode threads, under the staging pool's lock: implementations must be
/// thread-safe and should not block for long.
/// </remarks>
public interface IStagingMemoryRegistrar
{
    /// <summary>
    /// Registers <paramref name="length"/> bytes of pinned native memory at <paramref name="address"/>.
    /// SAFETY: the memory stays allocated, at that address, until the returned registration is disposed.
    /// </summary>
    /// <returns>The registration, to dispose before the memory is freed; null when the device cannot register host
    /// memory (the block is then used unregistered). Never throws for an unsupported device.</returns>
    IDisposable? Register(nint address, long length);
}
