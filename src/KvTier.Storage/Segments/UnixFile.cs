using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace KvTier.Storage.Segments;

/// <summary>
/// The few POSIX calls .NET does not expose: mapping a file read-only beyond its current end (segments grow under
/// one fixed mapping), <c>fdatasync</c>, and page-cache advice. Linux and macOS only.
/// </summary>
/// <remarks>Stateless; safe to call from any thread.</remarks>
internal static partial class UnixFile
{
    private const int ProtRead = 1;
    private const int MapShared = 1;
    private const int MadvWillNeed = 3;
    private const int FadvDontNeed = 4;

    internal static void EnsureSupported()
    {
        if (!OperatingSystem.IsLinux() && !OperatingSystem.IsMacOS())
            throw new PlatformNotSupportedException("KvTier's disk tier maps segment files with POSIX mmap; it runs on Linux and macOS.");
    }

    /// <summary>Maps <paramref name="length"/> bytes of the file read-only and shared; pages past the file's end must not be touched.</summary>
    internal static unsafe byte* MapReadOnly(SafeFileHandle file, long length, string path)
    {
        bool added = false;
        file.DangerousAddRef(ref added);
        try
        {
            // SAFETY: the descriptor is kept alive by the AddRef for the duration of the call; the mapping outlives
            // it legitimately (POSIX keeps a mapping valid after its descriptor closes) until Unmap.
            nint address = Mmap(0, (nuint)length, ProtRead, MapShared, (int)file.DangerousGetHandle(), 0);
            if (address == -1)
                throw new IOException($"{path}: mmap of {length} bytes failed (errno {Marshal.GetLastPInvokeError()}).");
            return (byte*)address;
        }
        finally
        {
            if (added)
                file.DangerousRelease();
        }
    }

    internal static unsafe void Unmap(byte* address, long length) => _ = Munmap((nint)address, (nuint)length);

    /// <summary>Flushes the file's data (and the metadata needed to read it back, such as its length) to the device.</summary>
    internal static void DataSync(SafeFileHandle file, string path)
    {
        bool added = false;
        file.DangerousAddRef(ref added);
        try
        {
            int fd = (int)file.DangerousGetHandle();
            int rc = OperatingSystem.IsLinux() ? Fdatasync(fd) : Fsync(fd);
            if (rc != 0)
                throw new IOException($"{path}: fdatasync failed (errno {Marshal.GetLastPInvokeError()}); the data written since the last sync may be lost.");
        }
        finally
        {
            if (added)
                file.DangerousRelease();
        }
    }

    /// <summary>Drops the file's pages from the page cache (for cold-read measurements); best effort.</summary>
    internal static void DropFromPageCache(SafeFileHandle file)
    {
        if (!OperatingSystem.IsLinux())
            return;
        bool added = false;
        file.DangerousAddRef(ref added);
        try
        {
            _ = PosixFadvise((int)file.DangerousGetHandle(), 0, 0, FadvDontNeed);
        }
        finally
        {
            if (added)
                file.DangerousRelease();
        }
    }

    /// <summary>Asks the kernel to read a mapped range ahead, in the background; best effort.</summary>
    internal static unsafe void WillNeed(byte* address, long length)
    {
        nint start = (nint)address & ~(nint)4095;
        _ = Madvise(start, (nuint)((nint)address + (nint)length - start), MadvWillNeed);
    }

    private const int MadvPopulateRead = 22;
    private static bool _populateUnsupported;

    /// <summary>
    /// Prepares a mapped range for reading in one system call instead of a page fault per few pages: populates its page
    /// tables (reading what is not cached) with <c>MADV_POPULATE_READ</c> (Linux 5.14+), or else asks for readahead with
    /// <c>MADV_WILLNEED</c>. Best effort: errors are ignored, the reads then fault as usual.
    /// </summary>
    internal static unsafe void Prefault(byte* address, long length)
    {
        nint start = (nint)address & ~(nint)4095;
        nuint span = (nuint)((nint)address + (nint)length - start);
        if (!_populateUnsupported && OperatingSystem.IsLinux())
        {
            if (Madvise(start, span, MadvPopulateRead) == 0)
                return;
            _populateUnsupported = true; // EINVAL on kernels before 5.14; any other error: fall back too.
        }
        _ = Madvise(start, span, MadvWillNeed);
    }

    /// <summary>
    /// Opens an existing file for writing with <c>O_DIRECT</c> (bypassing the page cache); null where the platform or
    /// the file system does not support it (tmpfs, macOS), and the caller then writes through the page cache.
    /// </summary>
    internal static SafeFileHandle? TryOpenDirectWrite(string path)
    {
        if (!OperatingSystem.IsLinux())
            return null;
        int direct = System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture switch
        {
            Architecture.X64 => 0x4000,
            Architecture.Arm64 => 0x10000,
            _ => 0,
        };
        if (direct == 0)
            return null;
        const int OWrOnly = 1, OCloexec = 0x80000;
        int fd = Open(path, OWrOnly | OCloexec | direct);
        return fd < 0 ? null : new SafeFileHandle(fd, ownsHandle: true);
    }

    /// <summary>Writes all of [buffer, buffer + length) at <paramref name="offset"/> (for <c>O_DIRECT</c>: aligned buffer, offset and length).</summary>
    internal static unsafe void WriteAll(SafeFileHandle file, byte* buffer, long length, long offset, string path)
    {
        bool added = false;
        file.DangerousAddRef(ref added);
        try
        {
            int fd = (int)file.DangerousGetHandle();
            while (length > 0)
            {
                nint written = Pwrite(fd, buffer, (nuint)length, offset);
                if (written <= 0)
                {
                    int errno = Marshal.GetLastPInvokeError();
                    if (written < 0 && errno == 4)
                        continue; // EINTR
                    throw new IOException($"{path}: write of {length} bytes at {offset} failed (errno {errno}).");
                }
                buffer += written;
                offset += written;
                length -= written;
            }
        }
        finally
        {
            if (added)
                file.DangerousRelease();
        }
    }

    /// <summary>
    /// <see cref="Prefault"/> when any page of the range is not in the page cache (<c>mincore</c>). A warm record is
    /// left alone: populating page tables that are already populated costs more than the copy it would save.
    /// </summary>
    internal static unsafe void PrefaultIfNotCached(byte* address, long length)
    {
        nint start = (nint)address & ~(nint)4095;
        long pages = ((nint)address + (nint)length - start + 4095) / 4096;
        byte[] residency = System.Buffers.ArrayPool<byte>.Shared.Rent((int)pages);
        try
        {
            fixed (byte* vector = residency)
            {
                if (Mincore(start, (nuint)(pages * 4096), vector) == 0)
                {
                    for (long i = 0; i < pages; i++)
                    {
                        if ((vector[i] & 1) == 0)
                        {
                            Prefault(address, length);
                            return;
                        }
                    }
                    return;
                }
            }
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(residency);
        }
        Prefault(address, length); // mincore failed: assume cold.
    }

    [LibraryImport("libc", EntryPoint = "mincore", SetLastError = true)]
    private static unsafe partial int Mincore(nint address, nuint length, byte* vector);

    [LibraryImport("libc", EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "pwrite", SetLastError = true)]
    private static unsafe partial nint Pwrite(int fd, byte* buffer, nuint count, long offset);

    [LibraryImport("libc", EntryPoint = "mmap", SetLastError = true)]
    private static partial nint Mmap(nint address, nuint length, int protection, int flags, int fd, long offset);

    [LibraryImport("libc", EntryPoint = "munmap", SetLastError = true)]
    private static partial int Munmap(nint address, nuint length);

    [LibraryImport("libc", EntryPoint = "fdatasync", SetLastError = true)]
    private static partial int Fdatasync(int fd);

    [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
    private static partial int Fsync(int fd);

    [LibraryImport("libc", EntryPoint = "posix_fadvise")]
    private static partial int PosixFadvise(int fd, long offset, long length, int advice);

    [LibraryImport("libc", EntryPoint = "madvise")]
    private static partial int Madvise(nint address, nuint length, int advice);
}
