using KvTier.Keys;
using KvTier.Storage.Index;
using KvTier.Storage.Segments;
using KvTier.Testing.Records;
using RocksDbSharp;
using Xunit;

namespace KvTier.Storage.Tests;

/// <summary>
/// Damage to a closed store's files: flipped bits and truncations in segment files (header, record bytes, trailers,
/// padding, tombstones, dead frames), deleted segment files, and damaged RocksDB files. A damaged record is a miss and
/// a counted corruption event, never wrong bytes; everything undamaged reads back; verification reports the damage;
/// an index RocksDB refuses is rebuilt by repair, after which every intact record reads back and deletes stay deleted.
/// </summary>
public sealed class CorruptionTests(CorruptionTests.Template template) : IClassFixture<CorruptionTests.Template>
{
    public enum Region
    {
        SegmentHeader,
        RecordHeader,
        RecordPayload,
        Trailer,
        Padding,
        Tombstone,
        DeadRecord,
    }

    public static TheoryData<Region, int> Regions()
    {
        var data = new TheoryData<Region, int>();
        foreach (Region region in Enum.GetValues<Region>())
        {
            for (int seed = 0; seed < 3; seed++)
                data.Add(region, seed);
        }
        return data;
    }

    public static TheoryData<int> Seeds(int count)
    {
        var data = new TheoryData<int>();
        for (int seed = 0; seed < count; seed++)
            data.Add(seed);
        return data;
    }

    [Theory]
    [MemberData(nameof(Regions))]
    public void A_flipped_bit_in_any_part_of_a_segment_costs_at_most_the_record_it_hits(Region region, int seed)
    {
        var random = new Random(seed * 31 + (int)region);
        (LayoutFrame? frame, string path, long offset) = PickIn(region, random);
        CheckFlips([(path, offset, (byte)(1 << random.Next(8)))], verifyFirst: seed % 2 == 0, $"{region} seed {seed} at {Path.GetFileName(path)}@{offset} ({frame})");
    }

    [Theory]
    [MemberData(nameof(Seeds), 12)]
    public void Random_bit_flips_across_segments_cost_at_most_the_records_they_hit(int seed)
    {
        var random = new Random(seed);
        string[] files = template.Dir.SegmentFiles();
        var flips = new List<(string, long, byte)>();
        for (int i = random.Next(1, 5); i > 0; i--)
        {
            string file = files[random.Next(files.Length)];
            flips.Add((file, random.NextInt64(new FileInfo(file).Length), (byte)(1 << random.Next(8))));
        }
        CheckFlips(flips, verifyFirst: seed % 2 == 1, $"seed {seed}: {string.Join(", ", flips.Select(f => $"{Path.GetFileName(f.Item1)}@{f.Item2}"))}");
    }

    [Theory]
    [MemberData(nameof(Seeds), 8)]
    public void A_truncated_segment_loses_only_the_records_past_the_cut(int seed)
    {
        var random = new Random(seed);
        using var dir = new StoreDirectory();
        dir.CopyFrom(template.Dir.Path);
        int index = random.Next(template.Dir.SegmentFiles().Length);
        string file = dir.SegmentFiles()[index];
        long length = new FileInfo(file).Length;
        // Mostly cuts inside the data; now and then inside the header.
        long cut = seed % 4 == 3 ? random.Next(SegmentFormat.HeaderSize) : random.NextInt64(SegmentFormat.HeaderSize, length);
        using (var stream = new FileStream(file, FileMode.Open))
            stream.SetLength(cut);

        ulong id = SegmentId(file);
        long kept = cut < SegmentFormat.HeaderSize ? 0 : cut / SegmentFormat.BlockSize * SegmentFormat.BlockSize;
        var damage = new Damage(template);
        foreach (LayoutFrame frame in template.Frames.Where(f => f.SegmentId == id && f.Offset + f.Size > kept))
            damage.LoseFrame(frame, atOpen: true);
        CheckDamagedStore(dir, damage, verifyFirst: seed % 2 == 0, $"{Path.GetFileName(file)} cut at {cut} of {length}");
    }

    [Fact]
    public void A_deleted_segment_file_loses_its_records_and_the_store_still_opens()
    {
        using var dir = new StoreDirectory();
        dir.CopyFrom(template.Dir.Path);
        string file = dir.SegmentFiles()[1];
        File.Delete(file);
        var damage = new Damage(template);
        foreach (LayoutFrame frame in template.Frames.Where(f => f.SegmentId == SegmentId(file)))
            damage.LoseFrame(frame, atOpen: true);
        Assert.NotEmpty(damage.LostAtOpen);
        CheckDamagedStore(dir, damage, verifyFirst: true, $"{Path.GetFileName(file)} deleted");
    }

    [Theory]
    [MemberData(nameof(Seeds), 24)]
    public void A_damaged_index_is_refused_or_harmless_and_repair_recovers_every_record(int seed)
    {
        var random = new Random(seed);
        using var dir = new StoreDirectory();
        dir.CopyFrom(template.Dir.Path);
        // SST, WAL, MANIFEST, CURRENT and OPTIONS files, in turn; bits flipped or (except the WAL, below) cut short.
        string[] candidates = [.. Directory.GetFiles(dir.Index).Where(f => Path.GetFileName(f) is var n && (n.EndsWith(".sst", StringComparison.Ordinal)
            || n.EndsWith(".log", StringComparison.Ordinal) || n.StartsWith("MANIFEST-", StringComparison.Ordinal) || n == "CURRENT" || n.StartsWith("OPTIONS-", StringComparison.Ordinal)))
            .Where(f => new FileInfo(f).Length > 0).Order(StringComparer.Ordinal)];
        Assert.Contains(candidates, f => f.EndsWith(".sst", StringComparison.Ordinal));
        Assert.Contains(candidates, f => f.EndsWith(".log", StringComparison.Ordinal));
        string file = candidates[seed % candidates.Length];
        byte[] bytes = File.ReadAllBytes(file);
        string what;
        if (seed % 3 == 2 && !file.EndsWith(".log", StringComparison.Ordinal))
        {
            int cut = random.Next(bytes.Length);
            File.WriteAllBytes(file, bytes[..cut]);
            what = $"{Path.GetFileName(file)} cut at {cut} of {bytes.Length}";
        }
        else
        {
            for (int flips = 1 + random.Next(3); flips > 0; flips--)
                bytes[random.Next(bytes.Length)] ^= (byte)(1 << random.Next(8));
            File.WriteAllBytes(file, bytes);
            what = $"bits flipped in {Path.GetFileName(file)}";
        }

        KvStore store;
        try
        {
            store = KvStore.Open(template.Options(dir));
        }
        catch (KvStoreException ex) when (ex.Kind == StoreErrorKind.IndexDamaged)
        {
            RepairResult repair = KvStore.Repair(dir.Path);
            Assert.True(Directory.Exists(dir.Index + ".damaged"), $"{what}: the damaged index was not kept aside");
            Assert.Equal(0, repair.DamagedBytes);
            store = KvStore.Open(template.Options(dir));
            using (store)
                CheckRepairedStore(store, new Damage(template), what);
            return;
        }
        // RocksDB took the damage in its stride (OPTIONS, or bits it does not read): then nothing may be lost.
        using (store)
        {
            CheckReads(store, new Damage(template), what);
            Assert.Equal(0, store.GetStatistics().CorruptionEvents);
            VerifyResult verify = store.Verify();
            Assert.True(verify.Ok, $"{what}: {Describe(verify)}");
        }
    }

    [Fact]
    public void A_cut_short_index_log_never_yields_wrong_bytes()
    {
        // A WAL cut at a record boundary is a valid, older index: RocksDB cannot tell it from a crash before the lost
        // writes. Every record the store serves is one that was put under its key, and it verifies clean; records the
        // lost commits wrote are found again in the segments (frames past the older index's committed sequence, in
        // known segments and in segment files the older index does not name), except those whose segment a lost
        // compaction already deleted, which are counted as corruption, never served wrong.
        using var dir = new StoreDirectory();
        dir.CopyFrom(template.Dir.Path);
        string log = Directory.GetFiles(dir.Index, "*.log").Where(f => new FileInfo(f).Length > 0).Order(StringComparer.Ordinal).Last();
        byte[] bytes = File.ReadAllBytes(log);
        File.WriteAllBytes(log, bytes[..(bytes.Length / 2)]);
        using KvStore store = KvStore.Open(template.Options(dir));
        foreach (StoredEntry entry in store.Enumerate())
        {
            Assert.True(template.Versions.TryGetValue(entry.Key, out List<byte[]>? versions), $"the store holds {entry.Key}, never put");
            Assert.True(store.TryRead(entry.Key, out byte[]? read));
            Assert.Contains(versions, v => v.AsSpan().SequenceEqual(read));
        }
        Assert.True(store.Verify().Ok);
        int missing = template.Live.Keys.Count(k => !store.Contains(k));
        Assert.True(missing <= store.GetStatistics().CorruptionEvents, $"{missing} live records are missing, only {store.GetStatistics().CorruptionEvents} counted");
    }

    [Fact]
    public void Segments_without_an_index_are_refused_until_repair_rebuilds_it()
    {
        using var dir = new StoreDirectory();
        dir.CopyFrom(template.Dir.Path);
        Directory.Delete(dir.Index, recursive: true);
        KvStoreException refused = Assert.Throws<KvStoreException>(() => KvStore.Open(template.Options(dir)));
        Assert.Equal(StoreErrorKind.IndexDamaged, refused.Kind);
        Assert.Contains("repair", refused.Message, StringComparison.Ordinal);
        Assert.False(Directory.Exists(dir.Index), "a refused open must not create an index");

        RepairResult repair = KvStore.Repair(dir.Path);
        Assert.Equal(template.Dir.SegmentFiles().Length, repair.SegmentsScanned);
        using KvStore store = KvStore.Open(template.Options(dir));
        CheckRepairedStore(store, new Damage(template), "index deleted");
    }

    /// <summary>A place in the template's segments inside the given region, and the frame it belongs to.</summary>
    private (LayoutFrame? Frame, string Path, long Offset) PickIn(Region region, Random random)
    {
        if (region == Region.SegmentHeader)
        {
            string[] files = template.Dir.SegmentFiles();
            return (null, files[random.Next(files.Length)], random.Next(SegmentFormat.HeaderSize));
        }
        LayoutFrame[] candidates = region switch
        {
            Region.Tombstone => [.. template.Frames.Where(f => f.IsTombstone)],
            Region.DeadRecord => [.. template.Frames.Where(f => !f.IsTombstone && !template.IsLive(f))],
            Region.Padding => [.. template.Frames.Where(f => !f.IsTombstone && template.IsLive(f) && f.TrailerOffset + SegmentFormat.TrailerSize < f.Size)],
            _ => [.. template.Frames.Where(f => !f.IsTombstone && template.IsLive(f))],
        };
        Assert.NotEmpty(candidates);
        LayoutFrame frame = candidates[random.Next(candidates.Length)];
        long within = region switch
        {
            Region.RecordHeader => random.Next(KvTier.Format.ChunkRecordFormat.FixedHeaderSize),
            Region.RecordPayload => random.NextInt64(frame.RecordLength / 2, frame.RecordLength),
            Region.Trailer => frame.TrailerOffset + random.Next(SegmentFormat.TrailerSize),
            Region.Padding => random.NextInt64(frame.TrailerOffset + SegmentFormat.TrailerSize, frame.Size),
            Region.Tombstone => random.NextInt64(frame.TombstoneCheckedLength),
            _ => random.NextInt64(frame.RecordLength),
        };
        return (frame, template.SegmentPath(frame.SegmentId), frame.Offset + within);
    }

    /// <summary>Flips bits in a copy of the template (paths given in the template), works out what each flip costs, and checks the store.</summary>
    private void CheckFlips(IReadOnlyList<(string Path, long Offset, byte Mask)> flips, bool verifyFirst, string what)
    {
        using var dir = new StoreDirectory();
        dir.CopyFrom(template.Dir.Path);
        var damage = new Damage(template);
        foreach ((string path, long offset, byte mask) in flips)
        {
            string copy = Path.Combine(dir.Segments, Path.GetFileName(path));
            using (var stream = new FileStream(copy, FileMode.Open))
            {
                stream.Position = offset;
                int b = stream.ReadByte();
                stream.Position = offset;
                stream.WriteByte((byte)(b ^ mask));
            }
            ulong id = SegmentId(path);
            if (offset < SegmentFormat.HeaderSize)
            {
                foreach (LayoutFrame lost in template.Frames.Where(f => f.SegmentId == id))
                    damage.LoseFrame(lost, atOpen: true);
                continue;
            }
            if (template.Frames.FirstOrDefault(f => f.SegmentId == id && f.Contains(offset)) is not { } frame)
                continue;
            long within = offset - frame.Offset;
            if (frame.IsTombstone)
                damage.LoseFrame(frame, atOpen: false);
            else if (within < frame.RecordLength)
                damage.LoseFrame(frame, atOpen: false);
            else if (within >= frame.TrailerOffset && within < frame.TrailerOffset + SegmentFormat.TrailerSize)
                damage.DamageTrailer(frame);
            // Else the zeros between record and trailer or after the trailer: no reader looks at them.
        }
        CheckDamagedStore(dir, damage, verifyFirst, what);
    }

    /// <summary>
    /// Opens the damaged store and checks reads, statistics and verification (in either order), then a second open,
    /// then a repair.
    /// </summary>
    private void CheckDamagedStore(StoreDirectory dir, Damage damage, bool verifyFirst, string what)
    {
        using (KvStore store = KvStore.Open(template.Options(dir)))
        {
            Assert.True(damage.LostAtOpen.Count == store.GetStatistics().CorruptionEvents, $"{what}: {store.GetStatistics().CorruptionEvents} corruption events at open, expected {damage.LostAtOpen.Count}");
            if (verifyFirst)
            {
                // Verification reports every damaged record and, by default, changes nothing: a second run agrees.
                VerifyResult verify = store.Verify();
                HashSet<ChunkKey> reported = ReportedKeys(verify);
                Assert.True(reported.SetEquals(damage.LostLater.Concat(damage.BadTrailer)),
                    $"{what}: verification reported [{string.Join(", ", reported.Select(template.Name))}], expected [{string.Join(", ", damage.LostLater.Concat(damage.BadTrailer).Select(template.Name))}]; {Describe(verify)}");
                Assert.Equal(reported.Count, verify.RecordsCorrupt);
                Assert.Equal(damage.LostAtOpen.Count, store.GetStatistics().CorruptionEvents);
                Assert.True(reported.SetEquals(ReportedKeys(store.Verify())), $"{what}: a second verification disagrees");

                // Asked to, it drops what it reports (through the writer: let that land before reading).
                Assert.True(reported.SetEquals(ReportedKeys(store.Verify(dropCorrupt: true))), $"{what}: the dropping verification disagrees");
                store.Flush();
                Assert.Equal(damage.LostAtOpen.Count + reported.Count, store.GetStatistics().CorruptionEvents);
                CheckReads(store, damage, what, trailerDamageDropped: true);
                Assert.Equal(damage.LostAtOpen.Count + reported.Count, store.GetStatistics().CorruptionEvents);
            }
            else
            {
                // Reads find damaged bytes themselves (a miss and an event each); a damaged trailer alone leaves the
                // record's bytes, checked against the index's checksum, servable.
                CheckReads(store, damage, what, trailerDamageDropped: false);
                Assert.Equal(damage.LostAtOpen.Count + damage.LostLater.Count, store.GetStatistics().CorruptionEvents);
                store.Flush(); // A read drops a corrupt record through the writer.
                HashSet<ChunkKey> stillStored = [.. damage.BadTrailer.Where(store.Contains)];
                VerifyResult verify = store.Verify(dropCorrupt: true);
                HashSet<ChunkKey> reported = ReportedKeys(verify);
                Assert.True(reported.SetEquals(stillStored), $"{what}: verification after reads reported [{string.Join(", ", reported.Select(template.Name))}]; {Describe(verify)}");
            }
        }

        // What was found corrupt stays dropped: a second open finds nothing new.
        using (KvStore store = KvStore.Open(template.Options(dir)))
        {
            Assert.Equal(0, store.GetStatistics().CorruptionEvents);
            CheckReads(store, damage, $"{what}, reopened", trailerDamageDropped: true);
            VerifyResult verify = store.Verify();
            Assert.True(verify.RecordsCorrupt == 0, $"{what}, reopened: {Describe(verify)}");
        }

        KvStore.Repair(dir.Path);
        using (KvStore store = KvStore.Open(template.Options(dir)))
            CheckRepairedStore(store, damage, $"{what}, repaired");
    }

    /// <summary>Every undamaged live record reads back bit for bit; damaged, deleted and evicted ones miss.</summary>
    private void CheckReads(KvStore store, Damage damage, string what, bool trailerDamageDropped = true)
    {
        foreach ((ChunkKey key, byte[] expected) in template.Live)
        {
            bool hit = store.TryRead(key, out byte[]? bytes);
            if (hit)
                Assert.True(expected.AsSpan().SequenceEqual(bytes), $"{what}: {template.Name(key)} read back wrong bytes");
            if (damage.LostAtOpen.Contains(key) || damage.LostLater.Contains(key))
                Assert.False(hit, $"{what}: damaged {template.Name(key)} was served");
            else if (damage.BadTrailer.Contains(key))
                Assert.False(hit && trailerDamageDropped, $"{what}: {template.Name(key)} was served after verification dropped it");
            else
                Assert.True(hit, $"{what}: undamaged {template.Name(key)} misses");
        }
        foreach (ChunkKey key in template.Deleted.Concat(template.Evicted))
            Assert.False(store.TryRead(key, out _), $"{what}: deleted or evicted {template.Name(key)} is back");
    }

    /// <summary>
    /// After a repair: every record whose frame is intact reads back its latest bytes; damaged ones miss or come back as
    /// an older version put under the same key; deletes whose tombstones are intact stay deleted; evicted records may
    /// come back (the format keeps no tombstone for them); nothing else appears; verification is clean.
    /// </summary>
    private void CheckRepairedStore(KvStore store, Damage damage, string what)
    {
        foreach (StoredEntry entry in store.Enumerate())
        {
            Assert.True(template.Versions.TryGetValue(entry.Key, out List<byte[]>? versions), $"{what}: the store holds {entry.Key}, never put");
            Assert.True(store.TryRead(entry.Key, out byte[]? bytes), $"{what}: {template.Name(entry.Key)} is listed but misses");
            Assert.True(versions.Any(v => v.AsSpan().SequenceEqual(bytes)), $"{what}: {template.Name(entry.Key)} reads back bytes never put under it");
            if (template.Live.TryGetValue(entry.Key, out byte[]? latest) && !damage.Affects(entry.Key))
                Assert.True(latest.AsSpan().SequenceEqual(bytes), $"{what}: intact {template.Name(entry.Key)} came back as an older version");
            if (template.Deleted.Contains(entry.Key))
                Assert.True(damage.DamagedTombstoneKeys.Contains(entry.Key), $"{what}: deleted {template.Name(entry.Key)} came back though its tombstone is intact");
        }
        foreach (ChunkKey key in template.Live.Keys.Where(k => !damage.Affects(k)))
            Assert.True(store.Contains(key), $"{what}: intact {template.Name(key)} was not recovered");
        Assert.Equal(0, store.GetStatistics().CorruptionEvents);
        VerifyResult verify = store.Verify();
        Assert.True(verify.RecordsCorrupt == 0, $"{what}: {Describe(verify)}");
    }

    private static HashSet<ChunkKey> ReportedKeys(VerifyResult verify) =>
        [.. verify.Problems.Where(p => p.Key is not null).Select(p => ChunkKey.Parse(p.Key!))];

    private static string Describe(VerifyResult verify) =>
        $"{verify.RecordsCorrupt} corrupt, {verify.DamagedBytes} damaged bytes: {string.Join("; ", verify.Problems.Take(8).Select(p => $"{p.SegmentId:x}@{p.Offset} {p.Message}"))}";

    private static ulong SegmentId(string path) =>
        SegmentFormat.TryParseFileName(Path.GetFileName(path), out ulong id) ? id : throw new ArgumentException(path);

    /// <summary>What some damage costs, worked out from the template's layout.</summary>
    private sealed class Damage(Template template)
    {
        /// <summary>Live records whose segment is unreadable or cut short: dropped and counted when the store opens.</summary>
        public HashSet<ChunkKey> LostAtOpen { get; } = [];

        /// <summary>Live records whose bytes are damaged: a miss and a corruption event when read or verified.</summary>
        public HashSet<ChunkKey> LostLater { get; } = [];

        /// <summary>Live records whose bytes are intact but whose trailer is not: verification reports them.</summary>
        public HashSet<ChunkKey> BadTrailer { get; } = [];

        /// <summary>Keys named by a tombstone that was damaged or lost: a repair may bring their records back.</summary>
        public HashSet<ChunkKey> DamagedTombstoneKeys { get; } = [];

        private readonly HashSet<ChunkKey> _damagedFrames = [];

        /// <summary>A frame lost (unreadable segment, cut off) or whose checked bytes are damaged. Dead frames cost no record.</summary>
        public void LoseFrame(LayoutFrame frame, bool atOpen)
        {
            if (frame.IsTombstone)
            {
                DamagedTombstoneKeys.UnionWith(frame.TombstoneKeys);
                return;
            }
            if (!template.IsLive(frame))
                return;
            ChunkKey key = frame.Key!.Value;
            _damagedFrames.Add(key);
            if (atOpen)
            {
                LostAtOpen.Add(key);
                LostLater.Remove(key);
                BadTrailer.Remove(key);
            }
            else if (!LostAtOpen.Contains(key))
            {
                LostLater.Add(key);
                BadTrailer.Remove(key);
            }
        }

        public void DamageTrailer(LayoutFrame frame)
        {
            if (!template.IsLive(frame))
                return;
            ChunkKey key = frame.Key!.Value;
            _damagedFrames.Add(key);
            if (!LostAtOpen.Contains(key) && !LostLater.Contains(key))
                BadTrailer.Add(key);
        }

        /// <summary>Whether any frame of the key was damaged (a repair may then pick an older version, or none).</summary>
        public bool Affects(ChunkKey key) => _damagedFrames.Contains(key);
    }

    /// <summary>
    /// A closed store built once per test class, with several segments, replaced records, deletes (single and batched
    /// tombstones), evictions, and an index partly in SST files and partly in the WAL. Tests damage copies of it.
    /// </summary>
    public sealed class Template : IDisposable
    {
        private readonly Dictionary<(ulong Segment, long Offset), ChunkKey> _liveFrames = [];
        private readonly Dictionary<ChunkKey, long> _ids = [];

        public Template()
        {
            Dir = new StoreDirectory();
            KvStoreOptions options = Options(Dir);
            var rng = new Random(7);
            using (KvStore store = KvStore.Open(options))
            {
                for (int id = 0; id < 220; id++)
                    Put(store, id, tokens: 1 + id * 37 % 240, seed: id);
                for (int id = 0; id < 220; id += 11)
                    Put(store, id, tokens: 1 + id * 13 % 200, seed: 1000 + id); // Replaced: the old frames are dead.
                ChunkKey[] deleted = [.. Enumerable.Range(0, 220).Where(id => id % 9 == 4).Select(id => TestRecords.Key(id))];
                foreach (ChunkKey key in deleted[..(deleted.Length / 2)])
                    Assert.True(store.Delete(key));
                // Deletes submitted together usually share a tombstone frame.
                bool[] found = Task.WhenAll(deleted[(deleted.Length / 2)..].Select(k => store.DeleteAsync(k).AsTask())).GetAwaiter().GetResult();
                Assert.All(found, Assert.True);
                Deleted.UnionWith(deleted);
                for (int id = 7; id < 220; id += 23)
                {
                    if (!Deleted.Contains(TestRecords.Key(id)) && store.Evict(TestRecords.Key(id)))
                        Evicted.Add(TestRecords.Key(id));
                }
                for (int id = 220; id < 260; id++)
                    Put(store, id, tokens: 1 + rng.Next(240), seed: id);
            }
            // RocksDB keeps a small index in its WAL alone; flush it into SST files so that damage can hit those too,
            // then write more so that the WAL holds some of it.
            CompactIndexIntoSstFiles(Dir.Index);
            using (KvStore store = KvStore.Open(options))
            {
                for (int id = 260; id < 290; id++)
                    Put(store, id, tokens: 1 + rng.Next(240), seed: id);
                Assert.True(store.Delete(TestRecords.Key(265)));
                Deleted.Add(TestRecords.Key(265));
                foreach (ChunkKey key in Deleted.Concat(Evicted))
                    Live.Remove(key);
                foreach (StoredEntry entry in store.Enumerate())
                    _liveFrames[(entry.SegmentId, entry.Offset)] = entry.Key;
                Assert.Equal(Live.Count, _liveFrames.Count);
                Assert.True(store.Verify().Ok);
            }
            Frames = [.. Dir.SegmentFiles().SelectMany(SegmentLayout.Read)];
            Assert.True(Dir.SegmentFiles().Length >= 3, "the template should span several segments");
        }

        internal StoreDirectory Dir { get; }

        /// <summary>The latest bytes of every stored record.</summary>
        internal Dictionary<ChunkKey, byte[]> Live { get; } = [];

        /// <summary>Every version ever put under each key.</summary>
        internal Dictionary<ChunkKey, List<byte[]>> Versions { get; } = [];

        internal HashSet<ChunkKey> Deleted { get; } = [];

        internal HashSet<ChunkKey> Evicted { get; } = [];

        internal List<LayoutFrame> Frames { get; }

        internal KvStoreOptions Options(StoreDirectory dir) => dir.Options() with { BackgroundCompaction = false };

        internal bool IsLive(LayoutFrame frame) => _liveFrames.ContainsKey((frame.SegmentId, frame.Offset));

        internal string SegmentPath(ulong id) => Path.Combine(Dir.Segments, SegmentFormat.FileName(id));

        internal string Name(ChunkKey key) => _ids.TryGetValue(key, out long id) ? $"record {id}" : key.ToString();

        private void Put(KvStore store, long id, int tokens, int seed)
        {
            byte[] record = TestRecords.Create(id, tokens, seed);
            ChunkKey key = store.Put(record);
            _ids[key] = id;
            Live[key] = record;
            if (!Versions.TryGetValue(key, out List<byte[]>? versions))
                Versions[key] = versions = [];
            versions.Add(record);
        }

        private static void CompactIndexIntoSstFiles(string path)
        {
            var families = new ColumnFamilies
            {
                { StoreIndex.ChunksFamily, new ColumnFamilyOptions() },
                { StoreIndex.SegmentsFamily, new ColumnFamilyOptions() },
                { StoreIndex.MetaFamily, new ColumnFamilyOptions() },
            };
            using RocksDb db = RocksDb.Open(new DbOptions(), path, families);
            foreach (string family in new[] { StoreIndex.ChunksFamily, StoreIndex.SegmentsFamily, StoreIndex.MetaFamily })
                db.CompactRange((byte[]?)null, null, db.GetColumnFamily(family));
        }

        public void Dispose() => Dir.Dispose();
    }
}
