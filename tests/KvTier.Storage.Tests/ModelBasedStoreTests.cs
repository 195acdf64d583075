using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using KvTier.Keys;
using KvTier.Storage.Segments;
using KvTier.Testing.Records;
using Xunit;

namespace KvTier.Storage.Tests;

/// <summary>
/// Random programs of puts (new keys and new content for old keys), batches, gets, deletes, evictions, compactions,
/// reopens and flushes, run against a real store and a dictionary: after every step the store holds exactly the
/// dictionary's keys, bit for bit. With a small disk the dictionary also models the LRU list, so the store must evict
/// exactly the least recently put or read records.
/// </summary>
public sealed class ModelBasedStoreTests
{
    private const int KeySpace = 24;
    private const long SmallDisk = 384 * 1024;

    private static readonly ChunkKey[] Keys = [.. Enumerable.Range(0, KeySpace).Select(id => TestRecords.Key(id))];

    [Property(MaxTest = 30)]
    public Property Store_agrees_with_a_dictionary_after_every_step() =>
        Prop.ForAll(Arb.From(Programs(), Shrink), program => Run(program, evicting: false));

    [Property(MaxTest = 30)]
    public Property With_a_small_disk_the_store_evicts_exactly_the_least_recently_used_records() =>
        Prop.ForAll(Arb.From(Programs(), Shrink), program => Run(program, evicting: true));

    private static void Run(StoreProgram program, bool evicting)
    {
        using var dir = new StoreDirectory();
        KvStoreOptions options = dir.Options(memory: program.MemoryKiB * 1024L, disk: evicting ? SmallDisk : 1L << 30);
        LruModel model = new(evicting ? SmallDisk : long.MaxValue);
        KvStore store = KvStore.Open(options);
        try
        {
            for (int i = 0; i < program.Steps.Length; i++)
            {
                Step step = program.Steps[i];
                string at = $"step {i} ({step})";
                switch (step)
                {
                    case Put put:
                        byte[] record = put.Record();
                        Assert.Equal(Keys[put.Id], store.Put(record));
                        model.Put(put.Id, record);
                        break;
                    case PutBatch batch:
                        byte[][] records = [.. batch.Puts.Select(p => p.Record())];
                        Assert.Equal(batch.Puts.Select(p => Keys[p.Id]), store.PutBatch([.. records.Select(r => (ReadOnlyMemory<byte>)r)]));
                        if (evicting)
                            store.Flush();
                        model = model.AfterBatch([.. batch.Puts.Select((p, j) => (p.Id, records[j]))], store, at);
                        break;
                    case Get get:
                        bool hit = store.TryRead(Keys[get.Id], out byte[]? bytes);
                        Assert.True(model.Contains(get.Id) == hit, $"{at}: the store {(hit ? "hit" : "missed")}");
                        if (hit)
                            Assert.True(model.Bytes(get.Id).AsSpan().SequenceEqual(bytes), $"{at}: wrong bytes");
                        model.Touch(get.Id);
                        break;
                    case Delete delete:
                        Assert.True(model.Contains(delete.Id) == store.Delete(Keys[delete.Id]), $"{at}: Delete's result");
                        model.Remove(delete.Id);
                        break;
                    case Evict evict:
                        Assert.True(model.Contains(evict.Id) == store.Evict(Keys[evict.Id]), $"{at}: Evict's result");
                        model.Remove(evict.Id);
                        break;
                    case Compact compact:
                        store.Compact(compact.MinLiveFraction);
                        break;
                    case Reopen:
                        store.Dispose();
                        store = KvStore.Open(options);
                        break;
                    case Flush:
                        store.Flush();
                        break;
                }
                // A put is acknowledged before the group that evicts for it commits; Flush waits for that group.
                if (evicting)
                    store.Flush();
                CheckAgreement(store, dir, model, evicting, at);
            }
            foreach (int id in model.Ids)
            {
                Assert.True(store.TryRead(Keys[id], out byte[]? bytes), $"at the end: key {id} misses");
                Assert.True(model.Bytes(id).AsSpan().SequenceEqual(bytes), $"at the end: key {id} has wrong bytes");
            }
        }
        finally
        {
            store.Dispose();
        }
    }

    private static void CheckAgreement(KvStore store, StoreDirectory dir, LruModel model, bool evicting, string at)
    {
        IReadOnlyList<StoredEntry> entries = store.Enumerate();
        ChunkKey[] expectedKeys = [.. model.Ids.Select(id => Keys[id]).Order()];
        Assert.True(expectedKeys.SequenceEqual(entries.Select(e => e.Key)),
            $"{at}: the store holds {{{string.Join(", ", entries.Select(e => Array.IndexOf(Keys, e.Key)).Order())}}}, the model {{{string.Join(", ", model.Ids.Order())}}}");
        StoreStatistics stats = store.GetStatistics();
        Assert.True(model.Count == stats.Entries, $"{at}: {stats.Entries} entries");
        Assert.True(model.LiveBytes == stats.LiveBytes, $"{at}: {stats.LiveBytes} live bytes, model {model.LiveBytes}");
        Assert.True(stats.LiveBytes <= model.Capacity, $"{at}: {stats.LiveBytes} live bytes over the capacity");
        Assert.True(stats.CorruptionEvents == 0, $"{at}: {stats.CorruptionEvents} corruption events");
        for (int id = 0; id < KeySpace; id++)
            Assert.True(model.Contains(id) == store.Contains(Keys[id]), $"{at}: Contains({id})");
        if (!evicting)
        {
            // Gets refresh the LRU position, which does not matter here: read everything through the store.
            for (int id = 0; id < KeySpace; id++)
            {
                bool hit = store.TryRead(Keys[id], out byte[]? bytes);
                Assert.True(model.Contains(id) == hit, $"{at}: TryRead({id}) {(hit ? "hit" : "missed")}");
                if (hit)
                    Assert.True(model.Bytes(id).AsSpan().SequenceEqual(bytes), $"{at}: key {id} has wrong bytes");
            }
            return;
        }
        // Reads through the store would reorder the LRU list; read each indexed record straight from its segment file.
        foreach (StoredEntry entry in entries)
        {
            int id = Array.IndexOf(Keys, entry.Key);
            Assert.True(model.Bytes(id).AsSpan().SequenceEqual(ReadFromSegment(store, dir, entry)), $"{at}: key {id} has wrong bytes in its segment");
        }
    }

    /// <summary>The record's bytes where the index says they are, without touching the store's LRU list.</summary>
    private static byte[] ReadFromSegment(KvStore store, StoreDirectory dir, StoredEntry entry)
    {
        for (int attempt = 0; ; attempt++)
        {
            string path = Path.Combine(dir.Segments, SegmentFormat.FileName(entry.SegmentId));
            try
            {
                using Microsoft.Win32.SafeHandles.SafeFileHandle file = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
                byte[] bytes = new byte[entry.RecordLength];
                Assert.Equal(bytes.Length, RandomAccess.Read(file, bytes, entry.Offset));
                return bytes;
            }
            catch (FileNotFoundException) when (attempt < 100)
            {
                // Background compaction moved the record and removed the segment meanwhile: look it up again.
                entry = store.Enumerate().Single(e => e.Key == entry.Key);
            }
        }
    }

    private static Gen<StoreProgram> Programs()
    {
        Gen<int> id = Gen.Choose(0, KeySpace - 1);
        // Mostly one-block records, some of up to 25 blocks: segments of 1 MiB roll every few dozen puts.
        Gen<Put> put =
            from i in id
            from tokens in Gen.Frequency((3, Gen.Choose(1, 60)), (2, Gen.Choose(200, 800)))
            from seed in Gen.Choose(0, 1_000_000)
            select new Put(i, tokens, seed);
        Gen<Step> step = Gen.Frequency(
            (40, put.Select(p => (Step)p)),
            (5, Gen.Choose(2, 6).SelectMany(n => put.ArrayOf(n)).Select(ps => (Step)new PutBatch(ps))),
            (20, id.Select(i => (Step)new Get(i))),
            (8, id.Select(i => (Step)new Delete(i))),
            (5, id.Select(i => (Step)new Evict(i))),
            (4, Gen.Elements(0.25, 0.5, 1.0).Select(f => (Step)new Compact(f))),
            (3, Gen.Constant((Step)new Reopen())),
            (3, Gen.Constant((Step)new Flush())));
        return
            from memoryKiB in Gen.Elements(0, 64, 1024)
            from length in Gen.Choose(20, 90)
            from steps in step.ArrayOf(length)
            select new StoreProgram(memoryKiB, steps);
    }

    /// <summary>Shorter programs: halves, then (for short ones) each step left out.</summary>
    private static IEnumerable<StoreProgram> Shrink(StoreProgram program)
    {
        Step[] steps = program.Steps;
        if (steps.Length < 2)
            yield break;
        yield return program with { Steps = steps[..(steps.Length / 2)] };
        yield return program with { Steps = steps[(steps.Length / 2)..] };
        if (steps.Length <= 30)
        {
            for (int i = 0; i < steps.Length; i++)
                yield return program with { Steps = [.. steps[..i], .. steps[(i + 1)..]] };
        }
    }

    /// <summary>The expected store: records by key id, in LRU order (least recently put or read first).</summary>
    private sealed class LruModel(long capacity)
    {
        private readonly Dictionary<int, (byte[] Bytes, LinkedListNode<int> Node)> _records = [];
        private readonly LinkedList<int> _lru = new();

        public long Capacity { get; } = capacity;

        /// <summary>
        /// The model after a batch of puts. The store evicts after each group commit, and the writer may split a batch
        /// over several groups (it starts on the first put before the last is queued); when puts in the batch replace
        /// records, the split changes what is evicted. The model tries every split and keeps the one whose keys the
        /// store holds; with no eviction they all agree.
        /// </summary>
        public LruModel AfterBatch((int Id, byte[] Bytes)[] puts, KvStore store, string at)
        {
            HashSet<ChunkKey> stored = [.. store.Enumerate().Select(e => e.Key)];
            var tried = new List<string>();
            for (int splits = 0; splits < 1 << (puts.Length - 1); splits++)
            {
                LruModel candidate = Clone();
                for (int i = 0; i < puts.Length; i++)
                {
                    candidate.Put(puts[i].Id, puts[i].Bytes, evict: false);
                    if (i == puts.Length - 1 || (splits & (1 << i)) != 0)
                        candidate.EvictToCapacity();
                }
                if (stored.SetEquals(candidate.Ids.Select(id => Keys[id])))
                    return candidate;
                tried.Add(string.Join(",", candidate.Ids.Order()));
            }
            Assert.Fail($"{at}: the store holds {{{string.Join(", ", stored.Select(k => Array.IndexOf(Keys, k)).Order())}}}; no split of the batch into groups gives that: {string.Join(" | ", tried.Distinct())}");
            return this;
        }

        private LruModel Clone()
        {
            var copy = new LruModel(Capacity);
            foreach (int id in _lru)
                copy.Put(id, _records[id].Bytes, evict: false);
            return copy;
        }

        public long LiveBytes { get; private set; }

        public int Count => _records.Count;

        public IEnumerable<int> Ids => _lru;

        public bool Contains(int id) => _records.ContainsKey(id);

        public byte[] Bytes(int id) => _records[id].Bytes;

        public void Put(int id, byte[] bytes, bool evict = true)
        {
            Remove(id);
            _records[id] = (bytes, _lru.AddLast(id));
            LiveBytes += SegmentFormat.RecordFrameSize(bytes.Length);
            if (evict)
                EvictToCapacity();
        }

        private void EvictToCapacity()
        {
            while (LiveBytes > Capacity)
                Remove(_lru.First!.Value);
        }

        public void Touch(int id)
        {
            if (_records.TryGetValue(id, out var record))
            {
                _lru.Remove(record.Node);
                _lru.AddLast(record.Node);
            }
        }

        public void Remove(int id)
        {
            if (_records.Remove(id, out var record))
            {
                _lru.Remove(record.Node);
                LiveBytes -= SegmentFormat.RecordFrameSize(record.Bytes.Length);
            }
        }
    }

    private sealed record StoreProgram(int MemoryKiB, Step[] Steps)
    {
        public override string ToString() => $"memory {MemoryKiB} KiB: {string.Join("; ", Steps.Select(s => s.ToString()))}";
    }

    private abstract record Step;

    private sealed record Put(int Id, int Tokens, int Seed) : Step
    {
        public byte[] Record() => TestRecords.Create(Id, Tokens, Seed);

        public override string ToString() => $"put {Id} ({Tokens} tokens, seed {Seed})";
    }

    private sealed record PutBatch(Put[] Puts) : Step
    {
        public override string ToString() => $"batch [{string.Join(", ", Puts.Select(p => p.ToString()))}]";
    }

    private sealed record Get(int Id) : Step;

    private sealed record Delete(int Id) : Step;

    private sealed record Evict(int Id) : Step;

    private sealed record Compact(double MinLiveFraction) : Step;

    private sealed record Reopen : Step;

    private sealed record Flush : Step;
}
