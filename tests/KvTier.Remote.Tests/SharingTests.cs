using KvTier.Format;
using KvTier.Keys;
using KvTier.Remote.Protocol;
using KvTier.Testing.Records;
using Xunit;

namespace KvTier.Remote.Tests;

/// <summary>Two clients share records through one server, bit-exact, and the server keeps them across a restart.</summary>
public class SharingTests
{
    [Fact]
    public async Task What_one_client_puts_the_other_gets_bit_exact()
    {
        await using ServerFixture fixture = ServerFixture.Start();
        await using KvCacheClient writer = await fixture.ConnectAsync();
        await using KvCacheClient reader = await fixture.ConnectAsync();
        byte[] record = TestRecords.Create(1, tokens: 64, contentSeed: 7);

        ChunkKey key = await writer.PutAsync(record);

        Assert.Equal(TestRecords.Key(1), key);
        byte[]? got = await reader.GetAsync(key);
        Assert.NotNull(got);
        Assert.Equal(record, got);
        Assert.Null(await reader.GetAsync(TestRecords.Key(2)));
    }

    [Fact]
    public async Task A_large_record_crosses_many_data_frames_bit_exact()
    {
        await using ServerFixture fixture = ServerFixture.Start();
        await using KvCacheClient client = await fixture.ConnectAsync(o => o with { SendChunkBytes = 4096 });
        byte[] record = TestRecords.Create(3, tokens: 4096, contentSeed: 3); // ~512 KiB

        await client.PutAsync(record);

        Assert.Equal(record, await client.GetAsync(TestRecords.Key(3)));
    }

    [Fact]
    public async Task The_server_restarted_over_the_same_directory_still_has_the_record()
    {
        await using ServerFixture fixture = ServerFixture.Start();
        byte[] record = TestRecords.Create(5, tokens: 16);
        await using (KvCacheClient client = await fixture.ConnectAsync())
            await client.PutAsync(record);

        await fixture.RestartAsync();

        await using KvCacheClient again = await fixture.ConnectAsync();
        Assert.Equal(record, await again.GetAsync(TestRecords.Key(5)));
    }

    [Fact]
    public async Task Lookups_delete_list_stats_and_health_answer_from_the_store()
    {
        await using ServerFixture fixture = ServerFixture.Start();
        await using KvCacheClient client = await fixture.ConnectAsync();
        for (int i = 0; i < 3; i++)
            await client.PutAsync(TestRecords.Create(i));
        ChunkKey[] keys = [TestRecords.Key(0), TestRecords.Key(1), TestRecords.Key(9), TestRecords.Key(2)];

        Assert.Equal(new[] { true, true, false, true }, await client.ContainsAsync(keys));
        Assert.Equal(2, await client.LongestPrefixAsync(keys));
        Assert.True(await client.DeleteAsync(TestRecords.Key(1)));
        Assert.False(await client.DeleteAsync(TestRecords.Key(1)));
        Assert.Equal(1, await client.LongestPrefixAsync(keys));

        RemoteListPage first = await client.ListAsync(limit: 1);
        Assert.Single(first.Entries);
        Assert.True(first.More);
        RemoteListPage rest = await client.ListAsync(first.Entries[0].Key, limit: 10);
        Assert.Single(rest.Entries);
        Assert.False(rest.More);
        Assert.Equal(new[] { TestRecords.Key(0), TestRecords.Key(2) }.Order(), new[] { first.Entries[0].Key, rest.Entries[0].Key });

        RemoteStatistics stats = await client.GetStatisticsAsync();
        Assert.Equal(2, stats.Entries);
        Assert.Equal(1, stats.OpenConnections);
        RemoteHealth health = await client.GetHealthAsync();
        Assert.True(health.Accepting);
        Assert.Equal(2, health.Entries);
    }

    [Fact]
    public async Task A_layer_range_get_returns_exactly_those_sections_verified()
    {
        await using ServerFixture fixture = ServerFixture.Start();
        await using KvCacheClient client = await fixture.ConnectAsync();
        byte[] record = TestRecords.Create(11, tokens: 32, contentSeed: 4);
        await client.PutAsync(record);
        ChunkRecord parsed = ChunkRecord.Parse(record);

        RemoteLayerRange? range = await client.GetLayersAsync(TestRecords.Key(11), firstLayer: 1, layerCount: 1);

        Assert.NotNull(range);
        Assert.Equal(record.AsSpan(0, (int)parsed.Header.TableEnd).ToArray(), range.HeaderAndTable.ToArray());
        Assert.Equal(2, range.Sections.Count);
        Assert.Equal((1, SectionKind.Keys), (range.Sections[0].Layer, range.Sections[0].Kind));
        Assert.Equal((1, SectionKind.Values), (range.Sections[1].Layer, range.Sections[1].Kind));
        Assert.Equal(parsed.GetPayload(1, SectionKind.Keys).ToArray(), range.Sections[0].Payload.ToArray());
        Assert.Equal(parsed.GetPayload(1, SectionKind.Values).ToArray(), range.Sections[1].Payload.ToArray());
        var e = await Assert.ThrowsAsync<RemoteProtocolException>(() => client.GetLayersAsync(TestRecords.Key(11), firstLayer: 1, layerCount: 5));
        Assert.Equal(RemoteErrorCode.LayerOutOfRange, e.Code);
        Assert.Null(await client.GetLayersAsync(TestRecords.Key(12), 0, 1));
    }

    [Fact]
    public async Task Concurrent_requests_on_one_connection_all_complete_with_their_own_answers()
    {
        await using ServerFixture fixture = ServerFixture.Start();
        await using KvCacheClient client = await fixture.ConnectAsync();
        byte[] large = TestRecords.Create(500, tokens: 16384, contentSeed: 5); // ~2 MiB

        Task<ChunkKey>[] puts = [.. Enumerable.Range(0, 64).Select(i => client.PutAsync(TestRecords.Create(i, tokens: 1 + i % 7, contentSeed: i))), client.PutAsync(large)];
        await Task.WhenAll(puts);
        Task<byte[]?> bigGet = client.GetAsync(TestRecords.Key(500));
        Task<int>[] lookups = [.. Enumerable.Range(0, 64).Select(i => client.LongestPrefixAsync([TestRecords.Key(i), TestRecords.Key(1000)]))];
        Task<byte[]?>[] gets = [.. Enumerable.Range(0, 64).Select(i => client.GetAsync(TestRecords.Key(i)))];

        Assert.All(await Task.WhenAll(lookups), n => Assert.Equal(1, n));
        byte[]?[] got = await Task.WhenAll(gets);
        for (int i = 0; i < got.Length; i++)
            Assert.Equal(TestRecords.Create(i, tokens: 1 + i % 7, contentSeed: i), got[i]);
        Assert.Equal(large, await bigGet);
    }
}
