using KvTier.Keys;
using KvTier.Storage.Remote;
using KvTier.Testing.Records;
using KvTier.Testing.Remote;
using Xunit;

namespace KvTier.Storage.Tests;

/// <summary>
/// The tier chain local memory → local disk → remote (<see cref="KvStoreOptions.RemoteTier"/>): async gets fall
/// through and keep what the remote returns, puts are written behind, and a dead or lying remote is a miss.
/// </summary>
public sealed class RemoteTierChainTests
{
    [Fact]
    public async Task A_local_miss_is_served_by_the_remote_and_kept_locally()
    {
        using var dir = new StoreDirectory();
        var remote = new InMemoryRemoteTier();
        byte[] record = TestRecords.Create(1, tokens: 5, contentSeed: 2);
        remote.Seed(record);
        using var store = KvStore.Open(dir.Options() with { RemoteTier = remote });

        Assert.False(store.TryGet(TestRecords.Key(1), out _)); // The synchronous get stays local.
        using (RecordLease? lease = await store.GetAsync(TestRecords.Key(1)))
        {
            Assert.NotNull(lease);
            Assert.Equal(record, lease.Bytes.ToArray());
        }
        Assert.True(store.Contains(TestRecords.Key(1)));
        using (RecordLease? again = await store.GetAsync(TestRecords.Key(1)))
            Assert.Equal(StoreTier.Disk, again!.Tier);
        Assert.Equal(1, remote.Gets); // The second get was local.
        StoreStatistics stats = store.GetStatistics();
        Assert.Equal(1, stats.RemoteHits);
        Assert.Equal(0, stats.RemoteMisses);
        Assert.Equal(record.Length, stats.RemoteBytesRead); // fetched once; the local tiers served it after that
        Assert.Equal(stats.MemoryHits * record.Length, stats.MemoryBytesRead);
        Assert.Equal(stats.DiskHits * record.Length, stats.DiskBytesRead);
        await store.FlushRemoteAsync();
        Assert.Equal(0, remote.Puts); // A record fetched from the remote is not written back to it.
    }

    [Fact]
    public async Task Puts_are_written_behind_to_the_remote_bit_exact()
    {
        using var dir = new StoreDirectory();
        var remote = new InMemoryRemoteTier();
        using var store = KvStore.Open(dir.Options() with { RemoteTier = remote });
        byte[] one = TestRecords.Create(1, tokens: 3), two = TestRecords.Create(2, tokens: 4), three = TestRecords.Create(3, tokens: 2);
        store.Put(one);
        await store.PutBatchAsync([two, three]);
        await store.FlushRemoteAsync();

        Assert.Equal(one, remote.Peek(TestRecords.Key(1)));
        Assert.Equal(two, remote.Peek(TestRecords.Key(2)));
        Assert.Equal(three, remote.Peek(TestRecords.Key(3)));
        StoreStatistics stats = store.GetStatistics();
        Assert.Equal(3, stats.RemoteWrites);
        Assert.Equal(0, stats.RemoteWritesDropped);
        Assert.Equal(0, stats.RemoteWritesQueued);
    }

    [Fact]
    public async Task A_second_instance_loads_what_the_first_put()
    {
        using var dirA = new StoreDirectory();
        using var dirB = new StoreDirectory();
        var shared = new InMemoryRemoteTier();
        byte[] record = TestRecords.Create(7, tokens: 6, contentSeed: 9);
        using (var a = KvStore.Open(dirA.Options() with { RemoteTier = shared }))
        {
            a.Put(record);
            await a.FlushRemoteAsync();
        }
        using var b = KvStore.Open(dirB.Options() with { RemoteTier = shared });
        Assert.Equal(1, await b.LongestPrefixAsync([TestRecords.Key(7), TestRecords.Key(8)]));
        using RecordLease? lease = await b.GetAsync(TestRecords.Key(7));
        Assert.Equal(record, lease!.Bytes.ToArray());
    }

    [Fact]
    public async Task A_dead_remote_is_a_miss_and_puts_stay_local()
    {
        using var dir = new StoreDirectory();
        var remote = new InMemoryRemoteTier { Down = true };
        remote.Seed(TestRecords.Create(1));
        using var store = KvStore.Open(dir.Options() with { RemoteTier = remote });

        Assert.Null(await store.GetAsync(TestRecords.Key(1)));
        ChunkKey key = store.Put(TestRecords.Create(2));
        await store.FlushRemoteAsync();
        Assert.True(store.Contains(key));
        Assert.Equal(0, await store.LongestPrefixAsync([TestRecords.Key(1)]));
        StoreStatistics stats = store.GetStatistics();
        Assert.Equal(1, stats.RemoteMisses);
        Assert.Equal(0, stats.RemoteWrites);
        Assert.Equal(1, stats.RemoteWritesDropped);
    }

    public static TheoryData<string> Damage() => new() { "flipped payload byte", "truncated", "another key" };

    [Theory]
    [MemberData(nameof(Damage))]
    public async Task A_damaged_record_from_the_remote_is_a_miss_and_never_stored(string damage)
    {
        using var dir = new StoreDirectory();
        var remote = new InMemoryRemoteTier();
        remote.Seed(TestRecords.Create(1, tokens: 4));
        byte[] other = TestRecords.Create(2, tokens: 4);
        remote.Tamper = damage switch
        {
            "flipped payload byte" => bytes => { bytes[^3] ^= 0x40; return bytes; },
            "truncated" => bytes => bytes[..(bytes.Length / 2)],
            _ => _ => other,
        };
        using var store = KvStore.Open(dir.Options() with { RemoteTier = remote });

        Assert.Null(await store.GetAsync(TestRecords.Key(1)));
        Assert.Equal(0, store.GetStatistics().Entries);
        Assert.Equal(1, store.GetStatistics().CorruptionEvents);
        Assert.Equal(1, store.GetStatistics().RemoteMisses);
    }

    [Fact]
    public async Task Longest_prefix_counts_local_chunks_then_asks_the_remote_for_the_rest()
    {
        using var dir = new StoreDirectory();
        var remote = new InMemoryRemoteTier();
        remote.Seed(TestRecords.Create(3));
        remote.Seed(TestRecords.Create(4));
        using var store = KvStore.Open(dir.Options() with { RemoteTier = remote, RemoteWrites = RemoteWritePolicy.None });
        store.Put(TestRecords.Create(1));
        store.Put(TestRecords.Create(2));
        ChunkKey[] keys = [TestRecords.Key(1), TestRecords.Key(2), TestRecords.Key(3), TestRecords.Key(4), TestRecords.Key(5)];

        Assert.Equal(4, await store.LongestPrefixAsync(keys));
        Assert.Equal(2, await store.LongestPrefixAsync(keys[..2])); // All local: the remote is not asked.
        Assert.Equal(1, remote.PrefixCalls);
        await store.FlushRemoteAsync();
        Assert.Equal(0, remote.Puts); // RemoteWritePolicy.None
    }

    [Fact]
    public async Task A_full_write_behind_queue_drops_and_counts_instead_of_delaying_puts()
    {
        using var dir = new StoreDirectory();
        var remote = new InMemoryRemoteTier();
        remote.HoldPuts();
        using var store = KvStore.Open(dir.Options() with { RemoteTier = remote, RemoteWriteQueueLength = 1 });
        for (int i = 0; i < 6; i++)
            store.Put(TestRecords.Create(i)); // Returns although the remote holds every put.

        Assert.Equal(6, store.GetStatistics().Entries);
        // One record is held by the remote and one waits in the queue; the other four are dropped, each as soon as its
        // put's completion reaches the write-behind hook (which runs on the thread pool, so shortly after Put returns).
        Assert.True(SpinWait.SpinUntil(() => store.GetStatistics().RemoteWritesDropped >= 4, TimeSpan.FromSeconds(30)),
            $"{store.GetStatistics().RemoteWritesDropped} dropped");
        remote.ReleasePuts();
        await store.FlushRemoteAsync();
        StoreStatistics stats = store.GetStatistics();
        Assert.Equal(6, stats.RemoteWrites + stats.RemoteWritesDropped);
        Assert.Equal(stats.RemoteWrites, remote.Count);
    }

    [Fact]
    public void Closing_the_store_with_writes_still_queued_drops_them_without_waiting_for_the_remote()
    {
        using var dir = new StoreDirectory();
        var remote = new InMemoryRemoteTier();
        remote.HoldPuts();
        var store = KvStore.Open(dir.Options() with { RemoteTier = remote });
        store.Put(TestRecords.Create(1));
        store.Put(TestRecords.Create(2));
        store.Dispose(); // Must return although the remote never answers.

        Assert.Equal(0, remote.Count);
        using var reopened = KvStore.Open(dir.Options());
        Assert.Equal(2, reopened.GetStatistics().Entries); // Both stayed stored locally.
    }

    [Fact]
    public void The_write_behind_queue_length_is_validated()
    {
        using var dir = new StoreDirectory();
        var error = Assert.Throws<KvStoreException>(() => KvStore.Open(dir.Options() with { RemoteTier = new InMemoryRemoteTier(), RemoteWriteQueueLength = 0 }));
        Assert.Equal(StoreErrorKind.InvalidOptions, error.Kind);
        Assert.Contains(nameof(KvStoreOptions.RemoteWriteQueueLength), error.Message);
    }
}
