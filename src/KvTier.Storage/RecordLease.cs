using KvTier.Format;
using KvTier.Keys;
using KvTier.Storage.Memory;
using KvTier.Storage.Segments;

namespace KvTier.Storage;

/// <summary>
/// A reader's hold on one stored record: its bytes stay mapped (disk tier) or allocated (memory tier) and unchanged
/// until <see cref="Dispose"/>, whatever eviction, deletion or compaction does meanwhile. Dispose every lease.
/// </summary>
/// <remarks>A lease may be read from several threads at once; <see cref="Dispose"/> must come after all reads.</remarks>
public sealed unsafe class RecordLease : IDisposable
{
    private readonly KvStore _store;
    private readonly SegmentFile? _segment;
    private readonly MemoryRecord? _memory;
    private readonly ulong _sequence;
    private int _disposed;

    internal RecordLease(KvStore store, ChunkKey key, ulong sequence, StoreTier tier, SegmentFile? segment, MemoryRecord? memory, ReadOnlyMemory<byte> bytes, ChunkRecord record)
    {
        _store = store;
        Key = key;
        _sequence = sequence;
        Tier = tier;
        _segment = segment;
        _memory = memory;
        Bytes = bytes;
        Record = record;
    }

    /// <summary>The record's key.</summary>
    public ChunkKey Key { get; }

    /// <summary>The tier that served the record.</summary>
    public StoreTier Tier { get; }

    /// <summary>
    /// The record's bytes, zero-copy (a memory map or a pinned buffer). Valid until <see cref="Dispose"/>; using them
    /// afterwards is a use-after-free. Fully verified unless the store reads with <see cref="ReadVerification.Header"/>.
    /// </summary>
    public ReadOnlyMemory<byte> Bytes { get; }

    /// <summary>The record's validated header and section table, over <see cref="Bytes"/>.</summary>
    public ChunkRecord Record { get; }

    /// <summary>
    /// One section's payload after checking its checksum. On a mismatch the record is dropped from the store and
    /// counted as a corruption event, and this returns false: the caller treats the chunk as missing. A memory-tier copy
    /// that was fully checked before it was cached is not hashed again.
    /// </summary>
    public bool TryGetSection(int layer, SectionKind kind, out ReadOnlySpan<byte> payload)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        if (_memory is { Verified: true })
        {
            // A memory-tier copy whose every section was checked before it was cached: its bytes cannot have changed
            // since (the buffer is never written again), so the section is not hashed a second time.
            SectionEntry entry = Record.Sections[2 * layer + (int)kind];
            payload = Bytes.Span.Slice((int)entry.Offset, (int)entry.Length);
            return true;
        }
        try
        {
            payload = Record.GetPayload(layer, kind);
            return true;
        }
        catch (ChunkRecordException ex) when (ex.Kind == ChunkRecordErrorKind.SectionChecksum)
        {
            _store.ReportCorrupt(Key, _sequence, ex.Message);
            payload = default;
            return false;
        }
    }

    /// <summary>
    /// Asks the operating system to start reading one section's bytes in the background (<c>MADV_WILLNEED</c>), so that
    /// a later <see cref="TryGetSection"/> finds them cached. Does nothing for memory-tier leases. Best effort.
    /// </summary>
    public void ReadAhead(int layer, SectionKind kind)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        if (_segment is null)
            return;
        SectionEntry entry = Record.Sections[2 * layer + (int)kind];
        if (entry.Length == 0)
            return;
        fixed (byte* start = Bytes.Span)
            UnixFile.WillNeed(start + entry.Offset, entry.Length);
    }

    /// <summary>Releases the hold; the bytes may be unmapped or reused afterwards.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
            return;
        _segment?.Release();
        _memory?.Release();
        _store.LeaseReleased();
    }
}
