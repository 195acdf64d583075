using System.ComponentModel;
using System.Runtime.InteropServices;

namespace KvTier.Bench.Shared;

/// <summary>
/// How much of a file is in the page cache (Linux <c>mincore</c>): the load harnesses check with it that a "cold"
/// measurement really starts cold.
/// </summary>
/// <remarks>Stateless; safe to call from any thread.</remarks>
internal static unsafe partial class PageResidency
{
    private const int ORdOnly = 0;
    private const int OCloexec = 0x80000;
    private const int ProtRead = 1;
    private const int MapShared = 1;

    /// <summary>Bytes (whole 4 KiB pages) of the files under <paramref name="directory"/> that are in the page cache.</summary>
    public static long ResidentBytes(string directory)
    {
        long total = 0;
        foreach (string file in Directory.EnumerateFiles(directory))
            total += ResidentPages(file).Resident * 4096;
        return total;
    }

    /// <summary>Resident and total 4 KiB pages of a file, by mapping it and asking mincore.</summary>
    public static (long Resident, long Total) ResidentPages(string path)
    {
        long length = new FileInfo(path).Length;
        if (length == 0)
            return (0, 0);
        long pages = (length + 4095) / 4096;
        int fd = Open(path, ORdOnly | OCloexec, 0);
        if (fd < 0)
            throw Error($"open {path}");
        try
        {
            void* map = MMap(null, (nuint)length, ProtRead, MapShared, fd, 0);
            if (map == (void*)-1)
                throw Error($"mmap {path}");
            // SAFETY: map is this method's own read-only mapping of length bytes, unmapped below; vec holds one byte
            // per page and is pinned for the call.
            byte[] vec = new byte[pages];
            try
            {
                fixed (byte* v = vec)
                {
                    if (MinCore(map, (nuint)length, v) != 0)
                        throw Error($"mincore {path}");
                }
            }
            finally
            {
                _ = MUnmap(map, (nuint)length);
            }

            long resident = 0;
            foreach (byte b in vec)
                resident += b & 1;
            return (resident, pages);
        }
        finally
        {
            _ = Close(fd);
        }
    }

    private static Win32Exception Error(string what)
    {
        int errno = Marshal.GetLastPInvokeError();
        return new Win32Exception(errno, $"{what}: {Marshal.GetPInvokeErrorMessage(errno)}");
    }

    [LibraryImport("libc", EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int Open(string path, int flags, int mode);

    [LibraryImport("libc", EntryPoint = "close")]
    private static partial int Close(int fd);

    [LibraryImport("libc", EntryPoint = "mmap", SetLastError = true)]
    private static partial void* MMap(void* address, nuint length, int protection, int flags, int fd, long offset);

    [LibraryImport("libc", EntryPoint = "munmap")]
    private static partial int MUnmap(void* address, nuint length);

    [LibraryImport("libc", EntryPoint = "mincore", SetLastError = true)]
    private static partial int MinCore(void* address, nuint length, byte* vector);
}
