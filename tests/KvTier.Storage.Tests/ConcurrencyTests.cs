using KvTier.Keys;
using KvTier.Testing.Records;
using Xunit;

namespace KvTier.Storage.Tests;

/// <summary>
/// Puts, gets, deletes, evictions, compactions, verifications and listings from many threads at once: no torn or stale
/// read, no exception, and a lease's bytes stay valid while its segment is compacted away and even after the store
/// that granted it is closed.
/// </summary>
public sealed class ConcurrencyTests(Xunit.Abstractions.ITestOutputHelper output)
{
    private const int Keys = 48;
    private const int Versions = 4;

    [Fact]
    public async Task Concurrent_operations_never_tear_a_read_or_lose_a_write()
    {
        using var dir = new StoreDirectory();
        byte[][][] versions = [.. Enumerable.Range(0, Keys).Select(id => Enumerable.Range(0, Versions)
            .Select(v => TestRecords.Create(id, tokens: 1 + (id * 7 + v * 53) % 180, contentSeed: id * 100 + v)).ToArray())];
        ChunkKey[] keys = [.. Enumerable.Range(0, Keys).Select(id => TestRecords.Key(id))];
        var counts = new OperationCounts();
        var errors = new System.Collections.Concurrent.ConcurrentQueue<string>();
        using var stop = new CancellationTokenSource();

        using (KvStore store = KvStore.Open(dir.Options(memory: 256 * 1024) with { CompactionMinLiveFraction = 0.7 }))
        {
            void Worker(string name, Action<Random> step) => Guarded(name, errors, stop.Token, step);
            Task[] workers =
            [
                // Each putter owns half the keys, so it can check that it reads back what it wrote, unless the
                // deleter removed it meanwhile.
                .. Enumerable.Range(0, 2).Select(p => Task.Factory.StartNew(() => Worker($"putter {p}", random =>
                {
                    int id = random.Next(Keys / 2) * 2 + p;
                    int v = random.Next(Versions);
                    if (random.Next(4) == 0)
                        store.PutBatch([versions[id][v], versions[(id + 2) % Keys][v]]);
                    else
                        store.Put(versions[id][v]);
                    if (store.TryRead(keys[id], out byte[]? back) && !back.AsSpan().SequenceEqual(versions[id][v]))
                        errors.Enqueue($"putter {p} read back another version of {id} than it had just put");
                    counts.Add(ref counts.Puts);
                }), TaskCreationOptions.LongRunning)),
                .. Enumerable.Range(0, 3).Select(r => Task.Factory.StartNew(() => Worker($"reader {r}", random =>
                {
                    int id = random.Next(Keys);
                    if (store.TryGet(keys[id], out RecordLease? lease))
                    {
                        using (lease)
                        {
                            byte[] first = lease.Bytes.ToArray();
                            if (!versions[id].Any(v => v.AsSpan().SequenceEqual(first)))
                                errors.Enqueue($"reader {r} got bytes for {id} that no put wrote ({lease.Tier})");
                            Thread.Yield();
                            if (!lease.Bytes.Span.SequenceEqual(first))
                                errors.Enqueue($"reader {r} saw the bytes of a lease on {id} change");
                        }
                        counts.Add(ref counts.Hits);
                    }
                    counts.Add(ref counts.Gets);
                }), TaskCreationOptions.LongRunning)),
                Task.Factory.StartNew(() => Worker("deleter", random =>
                {
                    int id = random.Next(Keys);
                    if (random.Next(3) == 0)
                        store.Evict(keys[id]);
                    else
                        store.Delete(keys[id]);
                    counts.Add(ref counts.Deletes);
                    Thread.Sleep(1);
                }), TaskCreationOptions.LongRunning),
                Task.Factory.StartNew(() => Worker("compactor", random =>
                {
                    store.Compact(1.0);
                    counts.Add(ref counts.Compactions);
                }), TaskCreationOptions.LongRunning),
                Task.Factory.StartNew(() => Worker("inspector", random =>
                {
                    VerifyResult verify = store.Verify();
                    if (verify.RecordsCorrupt != 0)
                        errors.Enqueue($"verification found corrupt records: {string.Join("; ", verify.Problems.Select(p => p.Message))}");
                    foreach (StoredEntry entry in store.Enumerate())
                    {
                        if (Array.IndexOf(keys, entry.Key) < 0)
                            errors.Enqueue($"the store lists {entry.Key}, which nobody put");
                    }
                    _ = store.LongestPrefix(keys);
                    _ = store.GetStatistics();
                    _ = store.GetSegments();
                    counts.Add(ref counts.Inspections);
                }), TaskCreationOptions.LongRunning),
            ];
            // A bound on the run, not an assertion: the checks are on what happened meanwhile.
            SpinWait.SpinUntil(() => counts.Minimum >= 100 && counts.Puts >= 5000 || !errors.IsEmpty, TimeSpan.FromSeconds(20));
            stop.Cancel();
            await Task.WhenAll(workers);
            output.WriteLine(counts.ToString());
            Assert.True(errors.IsEmpty, string.Join(Environment.NewLine, errors.Take(20)));
            Assert.True(counts.Minimum > 0, $"some worker never ran: {counts}");
            Assert.True(counts.Hits > 0, $"no get hit: {counts}");

            store.Flush();
            StoreStatistics stats = store.GetStatistics();
            Assert.Equal(0, stats.OpenLeases);
            Assert.Equal(0, stats.CorruptionEvents);
            Assert.True(stats.SegmentsCompacted > 0, $"nothing was compacted: {counts}");
            CheckEveryRecordIsAVersion(store, keys, versions);
        }
        using (KvStore store = KvStore.Open(dir.Options()))
        {
            CheckEveryRecordIsAVersion(store, keys, versions);
            Assert.True(store.Verify().Ok);
        }
    }

    [Fact]
    public void A_lease_keeps_its_bytes_while_its_segment_is_compacted_away()
    {
        using var dir = new StoreDirectory();
        using KvStore store = KvStore.Open(dir.Options() with { BackgroundCompaction = false });
        byte[][] records = [.. Enumerable.Range(0, 300).Select(id => TestRecords.Create(id, tokens: 100, contentSeed: id))];
        store.PutBatch([.. records.Select(r => (ReadOnlyMemory<byte>)r)]);
        SegmentInfo first = store.GetSegments()[0];
        Assert.True(store.GetSegments().Count > 1);
        int[] inFirst = [.. Enumerable.Range(0, records.Length).Where(id => store.Enumerate().Single(e => e.Key == TestRecords.Key(id)).SegmentId == first.Id)];

        // Leases on some records of the first segment; most of the others deleted, so that it is worth compacting.
        int[] leased = [.. inFirst.Take(5)];
        RecordLease[] leases = [.. leased.Select(id => store.TryGet(TestRecords.Key(id), out RecordLease? lease) ? lease : throw new InvalidOperationException($"{id} missing"))];
        Assert.All(leases, l => Assert.Equal(StoreTier.Disk, l.Tier));
        foreach (int id in inFirst.Skip(5).Where(id => id % 3 != 0))
            Assert.True(store.Delete(TestRecords.Key(id)));

        CompactionResult result = store.Compact(0.9);
        Assert.True(result.SegmentsCompacted >= 1);
        Assert.DoesNotContain(store.GetSegments(), s => s.Id == first.Id);
        Assert.True(File.Exists(first.Path), "the segment file went while leases on it were held");
        for (int i = 0; i < leases.Length; i++)
        {
            Assert.Equal(records[leased[i]], leases[i].Bytes.ToArray());
            Assert.NotEqual(first.Id, store.Enumerate().Single(e => e.Key == TestRecords.Key(leased[i])).SegmentId);
        }

        // New gets read the copies; the old file goes with the last lease.
        Assert.True(store.TryRead(TestRecords.Key(leased[0]), out byte[]? copy));
        Assert.Equal(records[leased[0]], copy);
        foreach (RecordLease lease in leases[..^1])
            lease.Dispose();
        Assert.True(File.Exists(first.Path));
        leases[^1].Dispose();
        Assert.False(File.Exists(first.Path), "the compacted segment's file outlived its last lease");
        Assert.Equal(0, store.GetStatistics().OpenLeases);
    }

    [Fact]
    public void A_lease_outlives_the_store_that_granted_it()
    {
        using var dir = new StoreDirectory();
        byte[] onDisk = TestRecords.Create(1, tokens: 30, contentSeed: 1);
        byte[] inMemory = TestRecords.Create(2, tokens: 30, contentSeed: 2);
        RecordLease? diskLease, memoryLease;
        using (KvStore store = KvStore.Open(dir.Options(memory: 1 << 20)))
        {
            store.Put(onDisk);
            store.Put(inMemory);
        }
        using (KvStore store = KvStore.Open(dir.Options(memory: 1 << 20)))
        {
            Assert.True(store.TryGet(TestRecords.Key(1), out diskLease));
            Assert.True(store.TryGet(TestRecords.Key(2), out RecordLease? promoting));
            promoting.Dispose(); // This disk hit copied the record into the memory tier.
            Assert.True(store.TryGet(TestRecords.Key(2), out memoryLease));
            Assert.Equal(StoreTier.Disk, diskLease.Tier);
            Assert.Equal(StoreTier.Memory, memoryLease!.Tier);
        }
        Assert.Equal(onDisk, diskLease!.Bytes.ToArray());
        Assert.Equal(inMemory, memoryLease!.Bytes.ToArray());
        diskLease.Dispose();
        memoryLease.Dispose();
        // The directory is free again once the store is closed, leases or not.
        using KvStore reopened = KvStore.Open(dir.Options());
        Assert.Equal(2, reopened.GetStatistics().Entries);
    }

    private static void CheckEveryRecordIsAVersion(KvStore store, ChunkKey[] keys, byte[][][] versions)
    {
        foreach (StoredEntry entry in store.Enumerate())
        {
            int id = Array.IndexOf(keys, entry.Key);
            Assert.True(id >= 0, $"unknown key {entry.Key}");
            Assert.True(store.TryRead(entry.Key, out byte[]? bytes), $"listed key {id} misses");
            Assert.Contains(versions[id], v => v.AsSpan().SequenceEqual(bytes));
        }
    }

    private static void Guarded(string name, System.Collections.Concurrent.ConcurrentQueue<string> errors, CancellationToken stop, Action<Random> step)
    {
        var random = new Random();
        try
        {
            while (!stop.IsCancellationRequested)
                step(random);
        }
        catch (Exception ex)
        {
            errors.Enqueue($"{name}: {ex}");
        }
    }

    private sealed class OperationCounts
    {
        public long Puts, Gets, Hits, Deletes, Compactions, Inspections;

        public long Minimum => Math.Min(Math.Min(Interlocked.Read(ref Puts), Interlocked.Read(ref Gets)),
            Math.Min(Math.Min(Interlocked.Read(ref Deletes), Interlocked.Read(ref Compactions)), Interlocked.Read(ref Inspections)));

        public void Add(ref long counter) => Interlocked.Increment(ref counter);

        public override string ToString() => $"{Puts} puts, {Gets} gets ({Hits} hits), {Deletes} deletes, {Compactions} compactions, {Inspections} inspections";
    }
}
