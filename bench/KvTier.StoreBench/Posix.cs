using System.ComponentModel;
using System.Runtime.InteropServices;

namespace KvTier.StoreBench;

/// <summary>The libc calls the raw limits and the page-cache control need (Linux only).</summary>
/// <remarks>Stateless; safe to call from any thread.</remarks>
internal static unsafe partial class Posix
{
    public const int ORdOnly = 0;
    public const int OWrOnly = 1;
    public const int OCreat = 0x40;
    public const int OTrunc = 0x200;
    public const int OCloexec = 0x80000;

    /// <summary>O_DIRECT: 040000 on x64, 0200000 on Arm64 (where 040000 is O_DIRECTORY).</summary>
    public static int ODirect => RuntimeInformation.ProcessArchitecture == Architecture.Arm64 ? 0x10000 : 0x4000;

    private const int PosixFadvDontNeed = 4;

    public static int Open(string path, int flags, int mode = 0x1A4 /* 0644 */)
    {
        int fd = OpenNative(path, flags | OCloexec, mode);
        return fd >= 0 ? fd : throw Error($"open {path}");
    }

    public static void WriteAll(int fd, byte* buffer, long count, long offset)
    {
        while (count > 0)
        {
            nint n = PWrite(fd, buffer, (nuint)count, offset);
            if (n <= 0)
                throw Error("pwrite");
            buffer += n;
            count -= n;
            offset += n;
        }
    }

    /// <summary>Reads until <paramref name="count"/> bytes or end of file; returns the bytes read.</summary>
    public static long ReadAll(int fd, byte* buffer, long count, long offset)
    {
        long total = 0;
        while (count > 0)
        {
            nint n = PRead(fd, buffer, (nuint)count, offset);
            if (n < 0)
                throw Error("pread");
            if (n == 0)
                break;
            buffer += n;
            count -= n;
            offset += n;
            total += n;
        }

        return total;
    }

    public static void Sync(int fd)
    {
        if (FSync(fd) != 0)
            throw Error("fsync");
    }

    public static void Close(int fd) => _ = CloseNative(fd);

    /// <summary>
    /// Writes a file's dirty pages back and drops all its pages from the page cache. Pages a process has mapped
    /// stay resident (the kernel skips them), which <c>PageResidency.ResidentPages</c> (bench/Shared) reveals.
    /// </summary>
    public static void DropFromPageCache(string path)
    {
        int fd = Open(path, ORdOnly);
        try
        {
            Sync(fd);
            int rc = FAdvise(fd, 0, 0, PosixFadvDontNeed);
            if (rc != 0)
                throw new Win32Exception(rc, $"posix_fadvise {path}");
        }
        finally
        {
            Close(fd);
        }
    }

    private static Win32Exception Error(string what)
    {
        int errno = Marshal.GetLastPInvokeError();
        return new Win32Exception(errno, $"{what}: {Marshal.GetPInvokeErrorMessage(errno)}");
    }

    [LibraryImport("libc", EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int OpenNative(string path, int flags, int mode);

    [LibraryImport("libc", EntryPoint = "pwrite", SetLastError = true)]
    private static partial nint PWrite(int fd, byte* buffer, nuint count, long offset);

    [LibraryImport("libc", EntryPoint = "pread", SetLastError = true)]
    private static partial nint PRead(int fd, byte* buffer, nuint count, long offset);

    [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
    private static partial int FSync(int fd);

    [LibraryImport("libc", EntryPoint = "close")]
    private static partial int CloseNative(int fd);

    // Returns the error number itself; errno is not set.
    [LibraryImport("libc", EntryPoint = "posix_fadvise")]
    private static partial int FAdvise(int fd, long offset, long length, int advice);



}
