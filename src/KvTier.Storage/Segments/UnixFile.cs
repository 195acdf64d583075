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

    /// <summary>Asks the kernel to read a mapped range ahead; best effort.</summary>
    internal static unsafe void WillNeed(byte* address, long length)
    {
        nint start = (nint)address & ~(nint)4095;
        _ = Madvise(start, (nuint)((nint)address + (nint)length - start), MadvWillNeed);
    }

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
