using System.Runtime.InteropServices;

namespace KvTier.IO;

/// <summary>
/// Flushes a directory's entries to disk, so that a file created or renamed in it survives a power
/// loss (POSIX only makes a rename durable once the directory itself is fsync'ed). Best effort: only
/// on Linux, where a directory can be opened read-only and fsync'ed; elsewhere, or on any error, it
/// does nothing, because the data itself was already flushed and the rename is still atomic.
/// </summary>
/// <remarks>Stateless; safe to call from any thread.</remarks>
internal static partial class DirectoryFlush
{
    private const int ORdOnly = 0;
    // O_CLOEXEC is 02000000 on x64 and Arm64 alike. O_DIRECTORY is not used: its value differs between them
    // (0x10000 on x64 is O_DIRECT on Arm64), and a plain read-only open of a directory works on Linux.
    private const int OCloexec = 0x80000;

    internal static void TryFlush(string directory)
    {
        if (!OperatingSystem.IsLinux())
            return;
        try
        {
            int fd = Open(directory, ORdOnly | OCloexec);
            if (fd < 0)
                return;
            // SAFETY: fd is a descriptor this method opened and closes; nothing else sees it.
            _ = Fsync(fd);
            _ = Close(fd);
        }
        catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException)
        {
            // A libc without these exports: durability of the rename is then the file system's default.
        }
    }

    [LibraryImport("libc", EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "fsync")]
    private static partial int Fsync(int fd);

    [LibraryImport("libc", EntryPoint = "close")]
    private static partial int Close(int fd);
}
