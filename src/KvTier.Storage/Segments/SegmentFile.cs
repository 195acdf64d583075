using KvTier.IO;
using Microsoft.Win32.SafeHandles;

namespace KvTier.Storage.Segments;

/// <summary>
/// One segment file (format-spec/segment-file.md): appended to through a file handle, read through one read-only
/// memory map of the segment's whole capacity, so that readers' pointers stay valid while the file grows.
/// </summary>
/// <remarks>
/// Concurrency: one writer (the store's writer thread) appends, syncs and truncates; any thread reads bytes below
/// <see cref="CommittedEnd"/> (those never change) while it holds a lease (<see cref="TryAcquire"/>). Lease counting is
/// lock-free; retirement deletes the file when the last lease is released. Accounting fields (<see cref="LiveBytes"/>,
/// …) are guarded by the store's lock.
/// </remarks>
internal sealed unsafe class SegmentFile
{
    private readonly SafeFileHandle _handle;
    private byte* _map;

    // Leases held plus one for the store itself; at zero the mapping is released (and the file deleted if retired).
    private int _references = 1;
    private volatile bool _retired;

    private SegmentFile(ulong id, string path, long capacity, SafeFileHandle handle, long end)
    {
        Id = id;
        Path = path;
        Capacity = capacity;
        _handle = handle;
        End = end;
        CommittedEnd = end;
        _map = UnixFile.MapReadOnly(handle, capacity, path);
    }

    /// <summary>The segment id.</summary>
    public ulong Id { get; }

    /// <summary>The file.</summary>
    public string Path { get; }

    /// <summary>The most bytes the file may hold.</summary>
    public long Capacity { get; }

    /// <summary>Where the next frame goes: everything below is written (not necessarily synced or indexed).</summary>
    public long End { get; private set; }

    /// <summary>Everything below is durable and indexed; bytes below never change.</summary>
    public long CommittedEnd { get; set; }

    /// <summary>Life-cycle state as last committed to the index.</summary>
    public SegmentState State { get; set; } = SegmentState.Active;

    /// <summary>Smallest sequence number of any frame in the segment (ulong.MaxValue when none).</summary>
    public ulong MinSequence { get; set; } = ulong.MaxValue;

    /// <summary>Largest sequence number of any frame in the segment.</summary>
    public ulong MaxSequence { get; set; }

    /// <summary>Frame bytes of the records the index points to here.</summary>
    public long LiveBytes { get; set; }

    /// <summary>Records the index points to here.</summary>
    public long LiveRecords { get; set; }

    /// <summary>Bytes written after the header.</summary>
    public long DataBytes => CommittedEnd - SegmentFormat.HeaderSize;

    /// <summary>
    /// Bytes of tombstone frames appended to this segment since the store opened. Compaction counts them as live:
    /// rewriting a segment of tombstones that must be carried forward anyway would only move them again. (After a
    /// reopen they count as dead until the segment is rewritten once.)
    /// </summary>
    public long TombstoneBytes { get; set; }

    /// <summary>Live record and tombstone bytes over data bytes (1 for an empty segment): what compaction compares with its threshold.</summary>
    public double LiveFraction => DataBytes <= 0 ? 1.0 : Math.Min(1.0, (double)(LiveBytes + TombstoneBytes) / DataBytes);

    /// <summary>Creates a new segment file with its header, synced along with its directory entry.</summary>
    public static SegmentFile Create(string directory, ulong id, Guid storeId, long capacity)
    {
        string path = System.IO.Path.Combine(directory, SegmentFormat.FileName(id));
        SafeFileHandle handle = File.OpenHandle(path, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.Read);
        try
        {
            byte[] header = new byte[SegmentFormat.HeaderSize];
            SegmentFormat.WriteHeader(header, id, storeId, capacity, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
            RandomAccess.Write(handle, header, 0);
            UnixFile.DataSync(handle, path);
            DirectoryFlush.TryFlush(directory);
            return new SegmentFile(id, path, capacity, handle, SegmentFormat.HeaderSize);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    /// <summary>Opens an existing segment file after checking its header against the store.</summary>
    /// <exception cref="SegmentFormatException">The header is invalid or names another store or segment.</exception>
    public static SegmentFile Open(string path, ulong expectedId, Guid? expectedStore, out SegmentHeader header)
    {
        SafeFileHandle handle = File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite, FileShare.Read);
        try
        {
            byte[] block = new byte[SegmentFormat.HeaderSize];
            int read = RandomAccess.Read(handle, block, 0);
            header = SegmentFormat.ReadHeader(block.AsSpan(0, read), path);
            if (header.SegmentId != expectedId)
                throw new SegmentFormatException($"the header names segment {header.SegmentId:x16}, not {expectedId:x16} as the file name does.", path, 16);
            if (expectedStore is { } store && header.StoreId != store)
                throw new SegmentFormatException($"the segment belongs to store {header.StoreId}, not {store}.", path, 24);
            long length = RandomAccess.GetLength(handle);
            if (length > header.Capacity)
                throw new SegmentFormatException($"the file is {length} bytes, over its capacity of {header.Capacity}.", path, header.Capacity);
            return new SegmentFile(expectedId, path, header.Capacity, handle, SegmentFormat.Align(length, SegmentFormat.BlockSize));
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    /// <summary>The file's length now (bytes a recovery scan may read).</summary>
    public long FileLength => RandomAccess.GetLength(_handle);

    /// <summary>
    /// A span over mapped bytes. SAFETY: the caller holds a lease (or is the writer, which owns the segment), and
    /// <paramref name="offset"/> + <paramref name="length"/> is within the file's length, so every page touched exists;
    /// the span stays valid until that lease is released.
    /// </summary>
    public ReadOnlySpan<byte> Span(long offset, int length)
    {
        if (offset < 0 || length < 0 || offset + length > Capacity)
            throw new ArgumentOutOfRangeException(nameof(offset), $"[{offset}, {offset + length}) is outside segment {Id:x16}.");
        return new ReadOnlySpan<byte>(_map + offset, length);
    }

    /// <summary>A pointer into the mapping; same rules as <see cref="Span"/>.</summary>
    public byte* Pointer(long offset) => _map + offset;

    /// <summary>Whether a frame of <paramref name="frameSize"/> bytes still fits.</summary>
    public bool Fits(long frameSize) => End + frameSize <= Capacity;

    /// <summary>Appends one frame (already padded to 4 KiB) at <see cref="End"/>; returns its offset.</summary>
    public long Append(ReadOnlySpan<byte> frame)
    {
        long offset = End;
        RandomAccess.Write(_handle, frame, offset);
        End = offset + SegmentFormat.Align(frame.Length, SegmentFormat.BlockSize);
        return offset;
    }

    /// <summary>
    /// Appends a chunk record followed by its trailer and padding; returns the frame's offset. Frames of at least
    /// <see cref="DirectWriteThreshold"/> bytes bypass the page cache (<c>O_DIRECT</c>, through <paramref name="staging"/>)
    /// where the file system allows: large sequential writes then run at the device's speed instead of the page
    /// cache's writeback speed, and do not evict hot pages.
    /// </summary>
    public long AppendRecord(ReadOnlySpan<byte> record, ReadOnlySpan<byte> trailerAndPadding, DirectWriteBuffer? staging = null)
    {
        long frame = record.Length + (long)trailerAndPadding.Length;
        if (staging is not null && frame >= DirectWriteThreshold && DirectHandle() is { } direct)
            return AppendDirect(direct, record, trailerAndPadding, staging);
        long offset = End;
        RandomAccess.Write(_handle, record, offset);
        RandomAccess.Write(_handle, trailerAndPadding, offset + record.Length);
        End = offset + SegmentFormat.RecordFrameSize(record.Length);
        return offset;
    }

    /// <summary>Frames at least this large are written with <c>O_DIRECT</c> where possible: 1 MiB.</summary>
    public const long DirectWriteThreshold = 1 << 20;

    private SafeFileHandle? _direct;
    private bool _directTried;

    private SafeFileHandle? DirectHandle()
    {
        if (!_directTried)
        {
            _directTried = true;
            _direct = UnixFile.TryOpenDirectWrite(Path);
        }
        return _direct;
    }

    private unsafe long AppendDirect(SafeFileHandle direct, ReadOnlySpan<byte> record, ReadOnlySpan<byte> tail, DirectWriteBuffer staging)
    {
        long offset = End;
        long position = offset;
        int recordDone = 0, tailDone = 0;
        Span<byte> buffer = staging.Span;
        // SAFETY: the staging buffer is the writer's own, 4 KiB-aligned and a multiple of 4 KiB long; the frame is a
        // multiple of 4 KiB, so every write is aligned in memory, offset and length, as O_DIRECT requires.
        while (recordDone < record.Length || tailDone < tail.Length)
        {
            int filled = 0;
            int fromRecord = Math.Min(record.Length - recordDone, buffer.Length);
            record.Slice(recordDone, fromRecord).CopyTo(buffer);
            recordDone += fromRecord;
            filled += fromRecord;
            int fromTail = Math.Min(tail.Length - tailDone, buffer.Length - filled);
            tail.Slice(tailDone, fromTail).CopyTo(buffer[filled..]);
            tailDone += fromTail;
            filled += fromTail;
            UnixFile.WriteAll(direct, staging.Pointer, filled, position, Path);
            position += filled;
        }
        End = offset + SegmentFormat.RecordFrameSize(record.Length);
        return offset;
    }

    /// <summary>Makes everything written so far durable.</summary>
    public void Sync() => UnixFile.DataSync(_handle, Path);

    /// <summary>Cuts the file at <paramref name="end"/> (recovery of a torn tail) and syncs the cut.</summary>
    public void Truncate(long end)
    {
        RandomAccess.SetLength(_handle, end);
        UnixFile.DataSync(_handle, Path);
        End = end;
        CommittedEnd = Math.Min(CommittedEnd, end);
    }

    /// <summary>Sets where the next frame goes (recovery, after checking the tail).</summary>
    public void ResetEnd(long end)
    {
        End = end;
        CommittedEnd = end;
    }

    /// <summary>Drops the file's pages from the page cache (benchmarks measuring cold reads).</summary>
    public void DropFromPageCache() => UnixFile.DropFromPageCache(_handle);

    /// <summary>Takes a lease; false when the segment is retired or closed (the caller treats the record as gone).</summary>
    public bool TryAcquire()
    {
        while (true)
        {
            int current = Volatile.Read(ref _references);
            if (current == 0 || _retired)
                return false;
            if (Interlocked.CompareExchange(ref _references, current + 1, current) == current)
                return true;
        }
    }

    /// <summary>Releases a lease; the last release of a retired or closed segment unmaps it (and deletes a retired file).</summary>
    public void Release()
    {
        if (Interlocked.Decrement(ref _references) == 0)
            Close();
    }

    /// <summary>Marks the segment retired and drops the store's own reference: the file goes when the last lease does.</summary>
    public void Retire()
    {
        _retired = true;
        Release();
    }

    /// <summary>Drops the store's reference at store close: the mapping goes when the last lease does.</summary>
    public void CloseWhenUnleased() => Release();

    /// <summary>Leases held by readers now (excluding the store's own reference).</summary>
    public int Leases => Math.Max(0, Volatile.Read(ref _references) - 1);

    private void Close()
    {
        byte* map = _map;
        _map = null;
        if (map != null)
            UnixFile.Unmap(map, Capacity);
        _handle.Dispose();
        _direct?.Dispose();
        if (_retired)
        {
            try
            {
                File.Delete(Path);
            }
            catch (IOException)
            {
                // Already gone or not deletable now: the next open deletes files the index does not know.
            }
        }
    }
}
