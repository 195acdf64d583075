// The crash writer: opens a store and changes it until it is killed, printing each operation before submitting it
// ("try-put 17") and once the store has acknowledged it ("put 17"). Usage: DIR GroupCommit|NoSync FIRST-NEW-ID SEED.
// Every record's bytes follow from its id (CrashWorkload.Record); operations on one id never overlap, so the order of
// its lines is the order the store applied them.
using KvTier.Storage;
using KvTier.Storage.CrashWriter;
using KvTier.Testing.Records;

if (args.Length != 4 || !Enum.TryParse(args[1], out DurabilityMode durability) || !long.TryParse(args[2], out long nextId) || !int.TryParse(args[3], out int seed))
{
    Console.Error.WriteLine("usage: KvTier.Storage.CrashWriter DIR GroupCommit|NoSync FIRST-NEW-ID SEED");
    return 2;
}

var log = new AcknowledgementLog(Console.OpenStandardOutput());
var random = new Random(seed);
using KvStore store = KvStore.Open(CrashWorkload.Options(args[0], durability));
log.Write("open");

// A safety bound for a writer nobody kills (the test always does, within seconds).
for (int step = 0; step < 1_000_000; step++)
{
    int dice = random.Next(100);
    if (dice < 45 || nextId == 0)
    {
        // Concurrent puts of new keys: they share group commits.
        long[] ids = [.. Enumerable.Range(0, random.Next(1, 9)).Select(_ => nextId++)];
        foreach (long id in ids)
            log.Write($"try-put {id}");
        await Task.WhenAll(ids.Select(async id =>
        {
            await store.PutAsync(CrashWorkload.Record(id));
            log.Write($"put {id}");
        }));
    }
    else if (dice < 55)
    {
        long[] ids = [.. Enumerable.Range(0, random.Next(2, 6)).Select(_ => nextId++)];
        foreach (long id in ids)
            log.Write($"try-put {id}");
        store.PutBatch([.. ids.Select(id => (ReadOnlyMemory<byte>)CrashWorkload.Record(id))]);
        foreach (long id in ids)
            log.Write($"put {id}");
    }
    else if (dice < 67)
    {
        long id = random.NextInt64(nextId);
        log.Write($"try-put {id}");
        store.Put(CrashWorkload.Record(id));
        log.Write($"put {id}");
    }
    else if (dice < 82)
    {
        // Concurrent deletes of distinct earlier keys: one tombstone frame may name several.
        long[] ids = [.. Enumerable.Range(0, random.Next(1, 4)).Select(_ => random.NextInt64(nextId)).Distinct()];
        foreach (long id in ids)
            log.Write($"try-delete {id}");
        await Task.WhenAll(ids.Select(async id =>
        {
            await store.DeleteAsync(TestRecords.Key(id));
            log.Write($"deleted {id}");
        }));
    }
    else if (dice < 88)
    {
        long id = random.NextInt64(nextId);
        log.Write($"try-evict {id}");
        store.Evict(TestRecords.Key(id));
        log.Write($"evicted {id}");
    }
    else if (dice < 91)
    {
        log.Write("compact");
        store.Compact(random.Next(2) == 0 ? 0.5 : 1.0);
        log.Write("compacted");
    }
    else if (dice < 94)
    {
        store.Flush();
    }
    else
    {
        // Reads keep the LRU access times changing, which every group persists.
        long id = random.NextInt64(nextId);
        if (store.TryGet(TestRecords.Key(id), out RecordLease? lease))
            lease.Dispose();
    }
}
return 0;
