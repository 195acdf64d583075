using KvTier.Keys;
using KvTier.Storage.CrashWriter;
using KvTier.Testing.Records;
using Xunit;

namespace KvTier.Storage.Tests;

/// <summary>
/// A writer process (tests/KvTier.Storage.CrashWriter) puts, deletes, evicts and compacts until it is killed with
/// SIGKILL at a random instant, again and again in one directory, so that each recovery starts from what earlier
/// recoveries left. After each kill the store must hold every acknowledged record bit for bit, nothing acknowledged as
/// deleted or evicted (unless put again), nothing never written, and pass verification.
/// </summary>
public sealed class CrashRecoveryTests
{
    private const int Kills = 12;

    [Fact]
    public void Group_commit_loses_nothing_acknowledged_across_repeated_kills() => KillRepeatedly(DurabilityMode.GroupCommit, seed: 1);

    [Fact]
    public void No_sync_loses_nothing_acknowledged_when_only_the_process_dies() => KillRepeatedly(DurabilityMode.NoSync, seed: 2);

    private static void KillRepeatedly(DurabilityMode durability, int seed)
    {
        using var dir = new StoreDirectory();
        var random = new Random(seed);
        var model = new AcknowledgedState();
        int writerRuns = 0, opened = 0;
        for (int kill = 0; kill < Kills; kill++)
        {
            // Every fourth writer dies at a random instant from its start, often while it recovers the store; the others
            // a random while after the store is open, while they write.
            bool fromStart = kill % 4 == 3;
            TimeSpan delay = TimeSpan.FromMilliseconds(fromStart ? random.Next(100, 1500) : random.Next(20, 700));
            IReadOnlyList<string> lines = RunWriterUntilKilled(dir.Path, durability, model.NextId, seed * 1000 + kill, delay, fromStart);
            writerRuns++;
            opened += lines.Count > 0 && lines[0] == "open" ? 1 : 0;
            model.Apply(lines);
            using KvStore store = KvStore.Open(CrashWorkload.Options(dir.Path, durability));
            model.CheckAndSettle(store, $"after kill {kill}");
        }
        Assert.True(opened >= writerRuns / 2, $"only {opened} of {writerRuns} writers opened the store before they were killed");
        Assert.True(model.AcknowledgedPuts > 100, $"only {model.AcknowledgedPuts} puts were acknowledged in all");
    }

    /// <summary>Runs a writer and SIGKILLs it after <paramref name="delay"/> (counted from its start or from its "open" line); returns its complete output lines.</summary>
    private static IReadOnlyList<string> RunWriterUntilKilled(string directory, DurabilityMode durability, long firstNewId, int seed, TimeSpan delay, bool fromStart)
    {
        using WriterProcess writer = WriterProcess.Start(directory, durability, firstNewId, seed);
        bool failed = !fromStart && !writer.WaitUntilOpen(TimeSpan.FromMinutes(1));
        failed = failed || writer.WaitForExit(delay);
        writer.Kill();
        Assert.False(failed, $"the writer exited or never opened the store ({writer.ExitDescription})");
        return writer.CompleteLines();
    }

    /// <summary>
    /// What the writers' acknowledgements say the store must hold. An operation begun ("try-…") but not acknowledged
    /// when the writer died may or may not have happened; the store's answer settles it before the next run.
    /// </summary>
    private sealed class AcknowledgedState
    {
        private readonly Dictionary<long, bool> _present = [];
        private readonly HashSet<long> _inFlight = [];
        private readonly Dictionary<ChunkKey, long> _ids = [];

        public long NextId { get; private set; }

        public long AcknowledgedPuts { get; private set; }

        public void Apply(IReadOnlyList<string> lines)
        {
            foreach (string line in lines)
            {
                string[] parts = line.Split(' ');
                if (parts.Length != 2)
                    continue; // "open", "compact", "compacted"
                long id = long.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture);
                switch (parts[0])
                {
                    case "try-put" or "try-delete" or "try-evict":
                        Assert.True(_inFlight.Add(id), $"the writer began a second operation on {id} before the first was acknowledged");
                        if (id >= NextId)
                        {
                            for (long i = NextId; i <= id; i++)
                                _ids[TestRecords.Key(i)] = i;
                            NextId = id + 1;
                        }
                        break;
                    case "put":
                        Acknowledge(id, present: true);
                        AcknowledgedPuts++;
                        break;
                    case "deleted" or "evicted":
                        Acknowledge(id, present: false);
                        break;
                    default:
                        Assert.Fail($"unexpected writer line '{line}'");
                        break;
                }
            }
        }

        private void Acknowledge(long id, bool present)
        {
            Assert.True(_inFlight.Remove(id), $"the writer acknowledged an operation on {id} it never began");
            _present[id] = present;
        }

        public void CheckAndSettle(KvStore store, string at)
        {
            Assert.Equal(0, store.GetStatistics().CorruptionEvents);
            int expectedEntries = 0;
            for (long id = 0; id < NextId; id++)
            {
                ChunkKey key = TestRecords.Key(id);
                bool stored = store.TryRead(key, out byte[]? bytes);
                if (_inFlight.Contains(id))
                    _present[id] = stored; // Either outcome is right for an operation cut short.
                else
                    Assert.True(_present.GetValueOrDefault(id) == stored, $"{at}: key {id} is {(stored ? "stored" : "missing")}, but its last acknowledged operation was a {(_present.GetValueOrDefault(id) ? "put" : "delete or evict (or none)")}");
                if (stored)
                {
                    expectedEntries++;
                    Assert.True(CrashWorkload.Record(id).AsSpan().SequenceEqual(bytes), $"{at}: key {id} has wrong bytes");
                }
            }
            _inFlight.Clear();

            IReadOnlyList<StoredEntry> entries = store.Enumerate();
            foreach (StoredEntry entry in entries)
                Assert.True(_ids.ContainsKey(entry.Key), $"{at}: the store holds {entry.Key}, which no writer ever put");
            Assert.Equal(expectedEntries, entries.Count);

            VerifyResult verify = store.Verify();
            Assert.True(verify.Ok, $"{at}: verification found {string.Join("; ", verify.Problems.Select(p => $"{p.SegmentId:x}@{p.Offset} {p.Key}: {p.Message}"))}");
            Assert.Equal(expectedEntries, verify.RecordsChecked);
        }
    }
}
