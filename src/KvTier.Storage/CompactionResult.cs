namespace KvTier.Storage;

/// <summary>What a compaction did (<see cref="KvStore.Compact"/>).</summary>
/// <param name="SegmentsCompacted">Segments whose live records were copied forward and whose files were removed.</param>
/// <param name="RecordsMoved">Live records copied.</param>
/// <param name="BytesCopied">Frame bytes written by the copies (and carried tombstones).</param>
/// <param name="BytesReclaimed">Bytes of segment files removed.</param>
/// <param name="TombstonesCarried">Tombstone frames copied forward because an older segment may still hold what they delete.</param>
/// <param name="DamagedBytes">Bytes in compacted segments that held no valid frame (corruption), skipped.</param>
public sealed record CompactionResult(int SegmentsCompacted, long RecordsMoved, long BytesCopied, long BytesReclaimed, long TombstonesCarried, long DamagedBytes);
