using KvTier.Keys;
using KvTier.Testing.Records;
using Xunit;

namespace KvTier.Storage.Tests;

/// <summary>
/// Compaction copies live records out of mostly dead segments and deletes their files; live data stays intact, and
/// tombstones that may still be needed are carried forward so that deletes stay deleted, even through a repair.
/// </summary>
public sealed class CompactionTests
{
    // 50 tokens: 8 KiB frames, 127 to a 1 MiB segment.
    private static byte[] Record(int id, int seed = 0) => TestRecords.Create(id, tokens: 50, contentSeed: id + seed);

    [Fact]
    public void Compaction_removes_mostly_dead_segments_and_keeps_every_live_record()
    {
        using var dir = new StoreDirectory();
        KvStoreOptions options = dir.Options() with { BackgroundCompaction = false };
        var live = new Dictionary<int, byte[]>();
        using (KvStore store = KvStore.Open(options))
        {
            for (int id = 0; id < 600; id++)
                store.Put(live[id] = Record(id));
            for (int id = 0; id < 600; id++)
            {
                if (id % 5 != 0)
                {
                    Assert.True(store.Delete(TestRecords.Key(id)));
                    live.Remove(id);
                }
            }
            for (int id = 0; id < 600; id += 10)
                store.Put(live[id] = Record(id, seed: 7)); // Replaced: their first frames are dead too.

            StoreStatistics before = store.GetStatistics();
            string[] filesBefore = dir.SegmentFiles();
            Dictionary<ChunkKey, ulong> segmentBefore = store.Enumerate().ToDictionary(e => e.Key, e => e.SegmentId);
            HashSet<ulong> segmentsBefore = [.. store.GetSegments().Select(s => s.Id)];
            var reports = new List<StoreProgress>();
            CompactionResult result = store.Compact(0.5, new SynchronousProgress(reports.Add));

            Assert.True(result.SegmentsCompacted >= 3, $"{result}");
            HashSet<ulong> compacted = [.. segmentsBefore.Except(store.GetSegments().Select(s => s.Id))];
            Assert.Equal(result.SegmentsCompacted, compacted.Count);
            Assert.Equal(segmentBefore.Values.Count(compacted.Contains), result.RecordsMoved);
            StoreStatistics after = store.GetStatistics();
            Assert.True(after.DeadBytes < before.DeadBytes / 2, $"dead bytes {before.DeadBytes} → {after.DeadBytes}");
            Assert.Equal(before.LiveBytes, after.LiveBytes);
            Assert.True(after.Segments < before.Segments);
            Assert.Equal(result.SegmentsCompacted, after.SegmentsCompacted);

            // The files of compacted segments are gone; every remaining file is a segment the store lists.
            Assert.Equal(store.GetSegments().Select(s => s.Path).Order(StringComparer.Ordinal), dir.SegmentFiles());
            Assert.Equal(filesBefore.Length - result.SegmentsCompacted, filesBefore.Count(File.Exists));

            Assert.NotEmpty(reports);
            Assert.All(reports, r => Assert.InRange(r.Done, 0, r.Total));
            Assert.Equal(reports.Select(r => r.Done).Order(), reports.Select(r => r.Done));
            CheckHolds(store, live, 600);
        }
        using (KvStore store = KvStore.Open(options))
        {
            CheckHolds(store, live, 600);
            Assert.True(store.Verify().Ok);
        }
    }

    [Fact]
    public void Carried_tombstones_keep_deletes_deleted_through_compaction_and_repair()
    {
        using var dir = new StoreDirectory();
        KvStoreOptions options = dir.Options() with { BackgroundCompaction = false };
        var live = new Dictionary<int, byte[]>();
        using (KvStore store = KvStore.Open(options))
        {
            // Segment 0: records 0-119, nearly all kept; segment 1 onward: records 120-359, nearly all deleted.
            for (int id = 0; id < 360; id++)
                store.Put(live[id] = Record(id));
            ulong firstSegment = store.GetSegments()[0].Id;
            int[] deletedFromFirst = [3, 50, 99];
            Assert.All(deletedFromFirst, id => Assert.Equal(firstSegment, store.Enumerate().Single(e => e.Key == TestRecords.Key(id)).SegmentId));
            foreach (int id in deletedFromFirst.Concat(Enumerable.Range(130, 220)))
            {
                Assert.True(store.Delete(TestRecords.Key(id)));
                live.Remove(id);
            }

            // The first segment is mostly live and stays; the others go, and with them the tombstones of 3, 50 and
            // 99, whose records the first segment still holds: those tombstones must be carried forward.
            CompactionResult result = store.Compact(0.5);
            Assert.Contains(store.GetSegments(), s => s.Id == firstSegment);
            Assert.True(result.SegmentsCompacted >= 1);
            Assert.True(result.TombstonesCarried >= 1, $"{result}");
            CheckHolds(store, live, 360);
        }

        RebuildIndexFromSegments(dir);
        using (KvStore store = KvStore.Open(options))
        {
            CheckHolds(store, live, 360);
            // Now compact everything, the first segment and the carried tombstones included, and rebuild again.
            store.Compact(1.0);
            CheckHolds(store, live, 360);
        }
        RebuildIndexFromSegments(dir);
        using (KvStore store = KvStore.Open(options))
        {
            CheckHolds(store, live, 360);
            Assert.True(store.Verify().Ok);
        }
    }

    [Fact]
    public void Background_compaction_reclaims_a_segment_emptied_by_deletes()
    {
        using var dir = new StoreDirectory();
        using KvStore store = KvStore.Open(dir.Options() with { BackgroundCompaction = true, CompactionMinLiveFraction = 0.5 });
        var live = new Dictionary<int, byte[]>();
        for (int id = 0; id < 400; id++)
            store.Put(live[id] = Record(id));
        string firstFile = dir.SegmentFiles()[0];
        ulong firstSegment = store.GetSegments()[0].Id;
        foreach (StoredEntry entry in store.Enumerate().Where(e => e.SegmentId == firstSegment).ToList())
        {
            int id = live.Keys.Single(i => TestRecords.Key(i) == entry.Key);
            if (id % 4 != 0)
            {
                store.Delete(entry.Key);
                live.Remove(id);
            }
        }
        // Not a timing assertion: a bound on waiting for the writer's background work.
        Assert.True(SpinWait.SpinUntil(() => !File.Exists(firstFile), TimeSpan.FromSeconds(30)), "the mostly dead segment was never compacted");
        Assert.True(store.GetStatistics().SegmentsCompacted >= 1);
        CheckHolds(store, live, 400);
    }

    [Fact]
    public void A_cancelled_compaction_keeps_what_it_did_and_loses_nothing()
    {
        using var dir = new StoreDirectory();
        using KvStore store = KvStore.Open(dir.Options() with { BackgroundCompaction = false });
        var live = new Dictionary<int, byte[]>();
        for (int id = 0; id < 400; id++)
            store.Put(live[id] = Record(id));
        for (int id = 0; id < 400; id += 2)
        {
            store.Delete(TestRecords.Key(id));
            live.Remove(id);
        }
        using var cancel = new CancellationTokenSource();
        cancel.Cancel();
        Assert.ThrowsAny<OperationCanceledException>(() => store.Compact(1.0, cancellationToken: cancel.Token));
        CheckHolds(store, live, 400);
        Assert.True(store.Compact(1.0).SegmentsCompacted >= 1);
        CheckHolds(store, live, 400);
    }

    /// <summary>The store holds exactly <paramref name="live"/> among ids below <paramref name="range"/>, bit for bit.</summary>
    private static void CheckHolds(KvStore store, Dictionary<int, byte[]> live, int range)
    {
        for (int id = 0; id < range; id++)
        {
            bool hit = store.TryRead(TestRecords.Key(id), out byte[]? bytes);
            Assert.True(live.ContainsKey(id) == hit, $"record {id} {(hit ? "is back" : "is missing")}");
            if (hit)
                Assert.Equal(live[id], bytes);
        }
        Assert.Equal(live.Count, store.GetStatistics().Entries);
    }

    private static void RebuildIndexFromSegments(StoreDirectory dir)
    {
        Directory.Delete(dir.Index, recursive: true);
        KvStore.Repair(dir.Path);
    }

    /// <summary>An <see cref="IProgress{T}"/> that reports on the caller's thread, in order (Progress&lt;T&gt; posts to the pool).</summary>
    private sealed class SynchronousProgress(Action<StoreProgress> report) : IProgress<StoreProgress>
    {
        public void Report(StoreProgress value) => report(value);
    }
}
