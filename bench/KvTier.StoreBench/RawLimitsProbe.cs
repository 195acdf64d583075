using System.Diagnostics;
using System.Runtime.InteropServices;

namespace KvTier.StoreBench;

/// <summary>
/// Measures what the machine allows for one record size: a direct-I/O sequential write, a cold sequential read and
/// a single-threaded memcpy, the ceilings the store's put, cold get and warm get are compared with.
/// </summary>
internal static unsafe class RawLimitsProbe
{
    private const int Alignment = 4096;

    /// <param name="directory">Scratch directory on the same file system as the stores.</param>
    /// <param name="recordBytes">Block size: one record, rounded up to 4 KiB for direct I/O.</param>
    /// <param name="totalBytes">Bytes to write and read (the case's data).</param>
    /// <param name="seconds">Time budget of the fsync-per-block write and of the memcpy rounds.</param>
    public static RawLimits Measure(string directory, long recordBytes, long totalBytes, double seconds)
    {
        int block = (int)((recordBytes + Alignment - 1) / Alignment * Alignment);
        long blocks = Math.Max(1, totalBytes / block);
        long fileBytes = blocks * block;
        string path = Path.Combine(directory, "raw-limits.bin");
        // SAFETY: buffer is this method's own aligned allocation of `block` bytes, freed in the finally below; no
        // I/O on it outlives the synchronous calls that use it.
        byte* buffer = (byte*)NativeMemory.AlignedAlloc((nuint)block, Alignment);
        try
        {
            new Random(3).NextBytes(new Span<byte>(buffer, block));

            double syncEach = DirectWrite(path, buffer, block, blocks, syncEachBlock: true, seconds);
            double write = DirectWrite(path, buffer, block, blocks, syncEachBlock: false, double.MaxValue);

            Posix.DropFromPageCache(path);
            double buffered = SequentialRead(path, buffer, block, fileBytes, direct: false);
            Posix.DropFromPageCache(path);
            double direct = SequentialRead(path, buffer, block, fileBytes, direct: true);
            File.Delete(path);

            double memcpy = Memcpy(block, Math.Min(fileBytes, 1L << 30), seconds);
            return new RawLimits(fileBytes, block, write, syncEach, Math.Max(buffered, direct), buffered, direct, memcpy);
        }
        finally
        {
            NativeMemory.AlignedFree(buffer);
        }
    }

    private static double DirectWrite(string path, byte* buffer, int block, long blocks, bool syncEachBlock, double budgetSeconds)
    {
        File.Delete(path);
        int fd = Posix.Open(path, Posix.OWrOnly | Posix.OCreat | Posix.OTrunc | Posix.ODirect);
        try
        {
            long start = Stopwatch.GetTimestamp();
            long written = 0;
            for (long b = 0; b < blocks; b++)
            {
                buffer[0] = (byte)b; // a different block each time, as records are
                Posix.WriteAll(fd, buffer, block, b * block);
                written += block;
                if (syncEachBlock)
                {
                    Posix.Sync(fd);
                    if (Stopwatch.GetElapsedTime(start).TotalSeconds > budgetSeconds)
                        break;
                }
            }

            if (!syncEachBlock)
                Posix.Sync(fd);
            return written / Stopwatch.GetElapsedTime(start).TotalSeconds;
        }
        finally
        {
            Posix.Close(fd);
        }
    }

    private static double SequentialRead(string path, byte* buffer, int block, long fileBytes, bool direct)
    {
        int fd = Posix.Open(path, Posix.ORdOnly | (direct ? Posix.ODirect : 0));
        try
        {
            long start = Stopwatch.GetTimestamp();
            long read = 0;
            while (read < fileBytes)
            {
                long n = Posix.ReadAll(fd, buffer, block, read);
                if (n == 0)
                    break;
                read += n;
            }

            return read / Stopwatch.GetElapsedTime(start).TotalSeconds;
        }
        finally
        {
            Posix.Close(fd);
        }
    }

    private static double Memcpy(int block, long sourceBytes, double budgetSeconds)
    {
        long slices = Math.Max(1, sourceBytes / block);
        // SAFETY: source and destination are this method's own allocations, freed below; every copy stays inside them.
        byte* source = (byte*)NativeMemory.AlignedAlloc((nuint)(slices * block), Alignment);
        byte* destination = (byte*)NativeMemory.AlignedAlloc((nuint)block, Alignment);
        try
        {
            new Span<byte>(destination, block).Fill(1);
            for (long s = 0; s < slices; s++)
                new Span<byte>(source + s * block, block).Fill((byte)s);

            // Best of three rounds, each at least two passes over the source: memory bandwidth on shared machines
            // varies by tens of percent from second to second, and a limit should be what the machine can do.
            double best = 0;
            for (int round = 0; round < 3; round++)
            {
                long start = Stopwatch.GetTimestamp();
                long copied = 0;
                for (long i = 0; copied < 2 * slices * block || Stopwatch.GetElapsedTime(start).TotalSeconds < budgetSeconds / 3; i++)
                {
                    Buffer.MemoryCopy(source + i % slices * block, destination, block, block);
                    copied += block;
                }

                best = Math.Max(best, copied / Stopwatch.GetElapsedTime(start).TotalSeconds);
            }

            return best;
        }
        finally
        {
            NativeMemory.AlignedFree(source);
            NativeMemory.AlignedFree(destination);
        }
    }
}
