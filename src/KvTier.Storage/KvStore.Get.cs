using System.Diagnostics.CodeAnalysis;
using System.IO.Hashing;
using KvTier.Format;
using KvTier.Keys;
using KvTier.Storage.Index;
using KvTier.Storage.Memory;
using KvTier.Storage.Segments;

namespace KvTier.Storage;

// Gets: memory tier first, then the disk tier through the segment's map; never bytes that fail their checks.
public sealed partial class KvStore
{
    /// <summary>
    /// Finds a record and leases its bytes, zero-copy: from the memory tier if it holds a copy, else from the segment's
    /// memory map (checked per <see cref="KvStoreOptions.ReadVerification"/>, then copied into the memory tier). A
    /// record that fails its checks is dropped, counted in <see cref="StoreStatistics.CorruptionEvents"/> and reported
    /// as a miss.
    /// </summary>
    /// <returns>True with a lease the caller must dispose; false on a miss.</returns>
    public bool TryGet(ChunkKey key, [NotNullWhen(true)] out RecordLease? lease) => TryGet(key, Options.ReadVerification, out lease);

    /// <summary>
    /// <see cref="TryGet(ChunkKey, out RecordLease?)"/> with this call's verification: <see cref="ReadVerification.Header"/>
    /// reads one layer's sections (through <see cref="RecordLease.TryGetSection"/>) without touching the others' bytes.
    /// </summary>
    public unsafe bool TryGet(ChunkKey key, ReadVerification verification, [NotNullWhen(true)] out RecordLease? lease)
    {
        ThrowIfDisposed();
        lease = null;
        ChunkEntry entry;
        SegmentFile? segment = null;
        MemoryRecord? copy = null;
        lock (_lock)
        {
            if (!_records.TryGetValue(key, out DiskRecord? record))
            {
                Interlocked.Increment(ref _misses);
                return false;
            }
            _lru.Touch(record);
            record.Entry = record.Entry with { AccessTick = (ulong)Interlocked.Increment(ref _accessTick) };
            if (!record.AccessDirty)
            {
                record.AccessDirty = true;
                _dirtyAccess.Add(record);
            }
            entry = record.Entry;
            if (!_memory.TryGet(key, entry.Sequence, out copy!))
            {
                copy = null;
                if (!_segments.TryGetValue(entry.SegmentId, out segment) || !segment.TryAcquire())
                {
                    Interlocked.Increment(ref _misses);
                    return false;
                }
            }
        }

        if (copy is not null)
        {
            // SAFETY: the copy's reference keeps the buffer alive until the lease is disposed.
            var bytes = new NativeMemoryManager(copy.Buffer, copy.Length).Memory;
            ChunkRecord parsed;
            try
            {
                parsed = ChunkRecord.Parse(bytes, "memory tier", maxDecodedBytes: long.MaxValue);
            }
            catch
            {
                copy.Release();
                throw;
            }
            Interlocked.Increment(ref _openLeases);
            Interlocked.Increment(ref _memoryHits);
            Interlocked.Add(ref _memoryBytesRead, copy.Length);
            lease = new RecordLease(this, key, entry.Sequence, StoreTier.Memory, null, copy, bytes, parsed);
            return true;
        }
        return TryLeaseFromDisk(key, entry, segment!, verification, out lease);
    }

    // Records from this size on are prefaulted as a whole when leased from disk for a full check (a header-checked
    // lease is read section by section by its holder, which reads ahead as it needs): 256 KiB.
    private const long PrefaultThreshold = 256 << 10;

    private unsafe bool TryLeaseFromDisk(ChunkKey key, in ChunkEntry entry, SegmentFile segment, ReadVerification verification, [NotNullWhen(true)] out RecordLease? lease)
    {
        lease = null;
        // SAFETY: the segment lease taken under the lock keeps the map alive; [offset, offset + length) is below the
        // segment's committed end, which never exceeds the file's length, so every page exists.
        ReadOnlyMemory<byte> bytes = new NativeMemoryManager(segment.Pointer(entry.Offset), (int)entry.RecordLength).Memory;
        if (verification == ReadVerification.Full && entry.RecordLength >= PrefaultThreshold)
            UnixFile.PrefaultIfNotCached(segment.Pointer(entry.Offset), entry.RecordLength); // Cold: one call reads the whole record in.
        string? problem = null;
        ChunkRecord? parsed = null;
        if (verification == ReadVerification.Full && XxHash3.HashToUInt64(bytes.Span) != entry.RecordChecksum)
        {
            problem = "the record's bytes do not match its checksum";
        }
        else
        {
            try
            {
                parsed = ChunkRecord.Parse(bytes, segment.Path, allowTrailingBytes: false, maxDecodedBytes: long.MaxValue);
                if (parsed.Header.Key != key)
                    problem = $"the record at this index entry has key {parsed.Header.Key}";
            }
            catch (ChunkRecordException ex)
            {
                problem = ex.Message;
            }
        }
        if (problem is not null)
        {
            segment.Release();
            Interlocked.Increment(ref _misses);
            ReportCorrupt(key, entry.Sequence, $"{segment.Path} at {entry.Offset}: {problem}");
            return false;
        }
        if (Options.MemoryCapacityBytes > 0 && verification == ReadVerification.Full)
            _memory.Insert(key, bytes.Span, entry.Sequence, verified: true); // Promotion on hit (only of bytes known good).
        Interlocked.Increment(ref _openLeases);
        Interlocked.Increment(ref _diskHits);
        Interlocked.Add(ref _diskBytesRead, entry.RecordLength);
        lease = new RecordLease(this, key, entry.Sequence, StoreTier.Disk, segment, null, bytes, parsed!);
        return true;
    }

    /// <summary>
    /// Asks the operating system to start reading the first <paramref name="bytesPerRecord"/> bytes of each disk-tier
    /// record in the background (<c>MADV_WILLNEED</c>), so that the gets that follow find them cached: cold reads of many
    /// records then overlap in the device queue instead of waiting one after another. Keys not stored, or held by the
    /// memory tier, are skipped. Does not count as a get. Best effort.
    /// </summary>
    public unsafe void ReadAhead(ReadOnlySpan<ChunkKey> keys, long bytesPerRecord)
    {
        ThrowIfDisposed();
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(bytesPerRecord);
        foreach (ChunkKey key in keys)
        {
            ChunkEntry entry;
            SegmentFile? segment;
            lock (_lock)
            {
                // A record the memory tier holds is read from there: reading its segment pages ahead would only load
                // the page cache (cold after an O_DIRECT put) with bytes nobody reads.
                if (!_records.TryGetValue(key, out DiskRecord? record) || _memory.Contains(key, record.Entry.Sequence)
                    || !_segments.TryGetValue(record.Entry.SegmentId, out segment) || !segment.TryAcquire())
                    continue;
                entry = record.Entry;
            }
            // SAFETY: the segment lease keeps the map alive; the range lies within the record, below the committed end.
            UnixFile.WillNeed(segment.Pointer(entry.Offset), Math.Min(bytesPerRecord, entry.RecordLength));
            segment.Release();
            Interlocked.Increment(ref _recordsReadAhead);
        }
    }

    /// <summary>Disk-tier records <see cref="ReadAhead"/> has asked the operating system for since the store opened.</summary>
    internal long RecordsReadAhead => Interlocked.Read(ref _recordsReadAhead);

    /// <summary>
    /// Copies a record (every section checked) into a new array; false on a miss. For callers that want the bytes
    /// beyond a lease's lifetime.
    /// </summary>
    public bool TryRead(ChunkKey key, [NotNullWhen(true)] out byte[]? bytes)
    {
        bytes = null;
        if (!TryGet(key, out RecordLease? lease))
            return false;
        using (lease)
        {
            if (Options.ReadVerification == ReadVerification.Header && lease.Tier == StoreTier.Disk)
            {
                foreach (SectionEntry section in lease.Record.Sections)
                {
                    if (!lease.TryGetSection(section.Layer, section.Kind, out _))
                        return false;
                }
            }
            bytes = lease.Bytes.ToArray();
            return true;
        }
    }
}
