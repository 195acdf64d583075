using KvTier.Format;
using KvTier.Keys;
using KvTier.Storage.Segments;

namespace KvTier.Storage;

// The work items the writer thread executes in order (KvStore.Writer.cs).
public sealed partial class KvStore
{
    private abstract class WriteOp
    {
        /// <summary>Record bytes the op appends (group-commit accounting).</summary>
        public virtual long Bytes => 0;

        public abstract void Fail(Exception error);
    }

    private sealed class PutOp(ReadOnlyMemory<byte> record, ChunkRecordHeader header, ulong checksum) : WriteOp
    {
        public ReadOnlyMemory<byte> Record { get; } = record;

        public ChunkRecordHeader Header { get; } = header;

        public ulong Checksum { get; } = checksum;

        public TaskCompletionSource<ChunkKey> Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public override long Bytes => Record.Length;

        public override void Fail(Exception error) => Done.TrySetException(error);
    }

    private sealed class DeleteOp(ChunkKey key, bool evict) : WriteOp
    {
        public ChunkKey Key { get; } = key;

        /// <summary>An eviction: no tombstone (an evicted record may come back after a repair; it is still valid data).</summary>
        public bool Evict { get; } = evict;

        public TaskCompletionSource<bool> Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public override void Fail(Exception error) => Done.TrySetException(error);
    }

    private sealed class DropCorruptOp(ChunkKey key, ulong sequence) : WriteOp
    {
        public ChunkKey Key { get; } = key;

        public ulong Sequence { get; } = sequence;

        public override void Fail(Exception error)
        {
            // Nobody waits: the record stays indexed and is found corrupt again on its next read.
        }
    }

    /// <summary>Asks the writer to evict to capacity and consider compaction.</summary>
    private sealed class MaintenanceOp : WriteOp
    {
        public override void Fail(Exception error)
        {
            // Nobody waits.
        }
    }

    private sealed class FlushOp : WriteOp
    {
        public TaskCompletionSource<bool> Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public override void Fail(Exception error) => Done.TrySetException(error);
    }

    private sealed class CompactOp(double minLiveFraction, bool includeActive, bool background, IProgress<StoreProgress>? progress, CancellationToken cancellation) : WriteOp
    {
        public double MinLiveFraction { get; } = minLiveFraction;

        public bool IncludeActive { get; } = includeActive;

        public bool Background { get; } = background;

        public IProgress<StoreProgress>? Progress { get; } = progress;

        public CancellationToken Cancellation { get; } = cancellation;

        public TaskCompletionSource<CompactionResult> Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Queue<ulong>? Pending { get; set; }

        public SegmentFile? Current { get; set; }

        public long Cursor { get; set; }

        public long TotalBytes { get; set; }

        public long DoneBytes { get; set; }

        public int SegmentsCompacted { get; set; }

        public long RecordsMoved { get; set; }

        public long BytesCopied { get; set; }

        public long BytesReclaimed { get; set; }

        public long TombstonesCarried { get; set; }

        public long DamagedBytes { get; set; }

        public override void Fail(Exception error) => Done.TrySetException(error);

        public CompactionResult Result() => new(SegmentsCompacted, RecordsMoved, BytesCopied, BytesReclaimed, TombstonesCarried, DamagedBytes);
    }
}
