using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using KvTier.Keys;
using KvTier.Remote.Protocol;
using KvTier.Storage;
using KvTier.Testing.Records;
using Xunit;

namespace KvTier.Remote.Tests;

/// <summary>
/// Bulk lanes (format-spec/protocol.md §12): large bodies travel on extra TCP (or TLS) connections, bit-exact; lanes off
/// on either side fall back to the multiplexer; bad attaches are refused without disturbing anything; a lane cut
/// mid-body fails only its request, stores nothing, and the connection carries on.
/// </summary>
public class BulkLaneTests
{
    private static readonly TimeSpan NeverHang = TimeSpan.FromSeconds(60);

    private static KvCacheClientOptions Lanes(KvCacheClientOptions o) => o with { BulkLaneThresholdBytes = 64 << 10 };

    [Fact]
    public async Task Large_gets_and_puts_travel_on_lanes_bit_exact()
    {
        await using ServerFixture fixture = ServerFixture.Start();
        await using KvCacheClient client = await fixture.ConnectAsync(Lanes);
        byte[] record = TestRecords.Create(1, tokens: 8192, contentSeed: 11); // ~1 MiB

        Assert.Equal(2, client.ProtocolVersion);
        Assert.Equal(2, client.BulkLanesAttached);
        await client.PutAsync(record).WaitAsync(NeverHang);
        byte[]? got = await client.GetAsync(TestRecords.Key(1)).WaitAsync(NeverHang);
        RemoteLayerRange? layers = await client.GetLayersAsync(TestRecords.Key(1), 1, 1).WaitAsync(NeverHang);

        Assert.Equal(record, got);
        Assert.NotNull(layers);
        Assert.Equal(2, layers.Sections.Count);
        RemoteStatistics stats = fixture.Server.GetStatistics();
        Assert.Equal(1, stats.BulkBodiesReceived);
        Assert.True(stats.BulkBodiesSent >= 2, $"{stats.BulkBodiesSent} bodies sent on lanes");
        Assert.Equal(2, stats.BulkLanesAttached);
        Assert.Equal(1, client.LaneBodiesSent);
        Assert.True(client.LaneBodiesReceived >= 2);
        // Small bodies stay on the multiplexer.
        byte[] small = TestRecords.Create(2, tokens: 4);
        await client.PutAsync(small);
        Assert.Equal(small, await client.GetAsync(TestRecords.Key(2)));
        Assert.Equal(1, fixture.Server.GetStatistics().BulkBodiesReceived);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_get_into_a_pooled_array_returns_the_record_and_gives_the_array_back(bool lanes)
    {
        await using ServerFixture fixture = ServerFixture.Start();
        await using KvCacheClient client = await fixture.ConnectAsync(o => lanes ? Lanes(o) : o with { BulkLaneThresholdBytes = 0 });
        byte[] record = TestRecords.Create(12, tokens: 8192, contentSeed: 12);
        await client.PutAsync(record);
        var pool = new CountingPool();

        PooledRecord? got = await client.GetAsync(TestRecords.Key(12), pool).WaitAsync(NeverHang);
        Assert.NotNull(got);
        Assert.Equal(record.Length, got.Length);
        Assert.Equal(record, got.Bytes.ToArray()); // the rented array may be longer; Bytes is exactly the record
        Assert.Equal(1, pool.Rented);
        got.Dispose();
        got.Dispose(); // once only
        Assert.Equal(1, pool.Returned);
        Assert.Throws<ObjectDisposedException>(() => got.Bytes);
        Assert.Null(await client.GetAsync(TestRecords.Key(13), pool)); // a miss rents nothing
        Assert.Equal(1, pool.Rented);
        Assert.Equal(lanes, fixture.Server.GetStatistics().BulkBodiesSent > 0);
    }

    private sealed class CountingPool : System.Buffers.ArrayPool<byte>
    {
        public int Rented;
        public int Returned;

        public override byte[] Rent(int minimumLength)
        {
            Interlocked.Increment(ref Rented);
            return new byte[minimumLength + 4096]; // longer than asked, as pools give
        }

        public override void Return(byte[] array, bool clearArray = false) => Interlocked.Increment(ref Returned);
    }

    [Fact]
    public async Task Lane_bodies_shorter_and_longer_than_the_readers_wake_mark_arrive_bit_exact()
    {
        // The lane's reader asks to be woken per 256 KiB but never for more than is still due: bodies below that mark,
        // just over it and of no round size must all complete (a reader waiting for bytes that never come would hang).
        await using ServerFixture fixture = ServerFixture.Start();
        await using KvCacheClient client = await fixture.ConnectAsync(Lanes);
        var pool = System.Buffers.ArrayPool<byte>.Create();
        int id = 70;
        foreach (int tokens in new[] { 520, 2049, 2100, 4099, 20000 })
        {
            byte[] record = TestRecords.Create(id, tokens, contentSeed: tokens);
            Assert.True(record.Length >= 64 << 10, $"{record.Length} bytes: below the lane threshold");
            await client.PutAsync(record).WaitAsync(NeverHang);
            for (int i = 0; i < 3; i++)
            {
                Assert.Equal(record, await client.GetAsync(TestRecords.Key(id)).WaitAsync(NeverHang));
                using PooledRecord? pooled = await client.GetAsync(TestRecords.Key(id), pool).WaitAsync(NeverHang);
                Assert.NotNull(pooled);
                Assert.Equal(record, pooled.Bytes.ToArray());
            }
            id++;
        }
        Assert.True(client.LaneBodiesReceived >= 30, $"{client.LaneBodiesReceived} bodies came on lanes");
    }

    [Fact]
    public async Task A_section_damaged_after_the_servers_check_is_caught_by_the_clients_check_on_arrival()
    {
        // The server's memory tier holds a copy checked when it was stored and serves it without hashing it again; damage
        // that copy (as a bad memory bit would) and only the client's checks, run while the body arrives, stand between
        // the damage and the caller.
        await using ServerFixture fixture = ServerFixture.Start();
        await using KvCacheClient client = await fixture.ConnectAsync(Lanes);
        byte[] record = TestRecords.Create(80, tokens: 8192, contentSeed: 8); // ~1 MiB: a lane body, held by the memory tier
        await client.PutAsync(record);
        Assert.True(fixture.Server.Store.TryGet(TestRecords.Key(80), out RecordLease? lease));
        using (lease)
        {
            Assert.Equal(StoreTier.Memory, lease.Tier);
            System.Runtime.InteropServices.MemoryMarshal.AsMemory(lease.Bytes).Span[record.Length - 3] ^= 0x40; // in the last section
        }
        var pool = new CountingPool();

        var failed = await Assert.ThrowsAsync<RemoteProtocolException>(() => client.GetAsync(TestRecords.Key(80)).WaitAsync(NeverHang));
        var failedPooled = await Assert.ThrowsAsync<RemoteProtocolException>(() => client.GetAsync(TestRecords.Key(80), pool).WaitAsync(NeverHang));

        Assert.Equal(RemoteErrorCode.InvalidRecord, failed.Code);
        Assert.Equal(RemoteErrorCode.InvalidRecord, failedPooled.Code);
        Assert.Equal(pool.Rented, pool.Returned); // the damaged body's array went back
        Assert.True(client.LaneBodiesReceived >= 2, "the damaged bodies came on lanes");
        // The lanes stay framed: the next record comes through intact.
        byte[] other = TestRecords.Create(81, tokens: 8192, contentSeed: 9);
        await client.PutAsync(other);
        Assert.Equal(other, await client.GetAsync(TestRecords.Key(81)).WaitAsync(NeverHang));
    }

    [Fact]
    public async Task A_record_damaged_on_the_server_disk_is_never_served_on_a_lane_and_is_dropped()
    {
        await using ServerFixture fixture = ServerFixture.Start();
        byte[] record = TestRecords.Create(9, tokens: 8192, contentSeed: 5); // ~1 MiB: a lane body
        await using (KvCacheClient writer = await fixture.ConnectAsync(Lanes))
            await writer.PutAsync(record);
        await fixture.RestartAsync(); // An empty memory tier: the get reads the segment file.
        await using KvCacheClient client = await fixture.ConnectAsync(Lanes);
        StoredEntry entry = fixture.Server.Store.Enumerate().Single(e => e.Key == TestRecords.Key(9));
        string segment = fixture.Server.Store.GetSegments().Single(s => s.Id == entry.SegmentId).Path;
        // Flip a byte of the last section in the file: the server reads through its memory map, which sees the change.
        long at = entry.Offset + entry.RecordLength - 3;
        using (var file = new FileStream(segment, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite))
        {
            file.Position = at;
            int b = file.ReadByte();
            file.Position = at;
            file.WriteByte((byte)(b ^ 0x40));
        }

        // Each get either fails (the lane was closed mid-body when the section failed) or misses; the store drops the
        // record on its writer thread, so a get right after the first may still find it and fail the same way.
        bool missed = false;
        for (int attempt = 0; attempt < 100 && !missed; attempt++)
        {
            try
            {
                byte[]? served = await client.GetAsync(TestRecords.Key(9)).WaitAsync(NeverHang);
                Assert.Null(served); // never the damaged record
                missed = true;
            }
            catch (RemoteProtocolException e)
            {
                Assert.Equal(RemoteErrorCode.BulkLaneLost, e.Code);
                await Task.Delay(20);
            }
        }

        Assert.True(missed, "the damaged record was never dropped");
        Assert.True(fixture.Server.Store.GetStatistics().CorruptionEvents >= 1);
        // The connection carries on, lanes included.
        byte[] other = TestRecords.Create(10, tokens: 8192, contentSeed: 6);
        await client.PutAsync(other);
        Assert.Equal(other, await client.GetAsync(TestRecords.Key(10)).WaitAsync(NeverHang));
    }

    [Fact]
    public async Task Lanes_off_on_the_client_or_the_server_fall_back_to_the_multiplexer()
    {
        byte[] record = TestRecords.Create(3, tokens: 8192, contentSeed: 3);
        await using (ServerFixture fixture = ServerFixture.Start())
        {
            await using KvCacheClient client = await fixture.ConnectAsync(o => o with { BulkLaneThresholdBytes = 0 });
            Assert.Equal(0, client.BulkLanesAttached);
            await client.PutAsync(record);
            Assert.Equal(record, await client.GetAsync(TestRecords.Key(3)));
            Assert.Equal(0, fixture.Server.GetStatistics().BulkBodiesSent + fixture.Server.GetStatistics().BulkBodiesReceived);
        }
        await using (ServerFixture fixture = ServerFixture.Start(o => o with { MaxBulkLanesPerConnection = 0 }))
        {
            await using KvCacheClient client = await fixture.ConnectAsync(Lanes);
            Assert.Equal(0, client.BulkLanesAttached);
            await client.PutAsync(record);
            Assert.Equal(record, await client.GetAsync(TestRecords.Key(3)));
            Assert.Equal(0, fixture.Server.GetStatistics().BulkBodiesSent + fixture.Server.GetStatistics().BulkBodiesReceived);

            // A version-2 welcome without lanes carries no token.
            await using RawConnection raw = await RawConnection.AuthenticatedAsync(fixture.Port, ServerFixture.Secret, maxVersion: 2);
            Assert.Equal(0, raw.Welcome.MaxBulkLanes);
            Assert.Empty(raw.Welcome.BulkToken);
        }
        await using (ServerFixture fixture = ServerFixture.Start())
        {
            // A version-1 client gets a version-1 welcome (no token) and its requests as before.
            await using RawConnection raw = await RawConnection.AuthenticatedAsync(fixture.Port, ServerFixture.Secret, maxVersion: 1);
            Assert.Equal(0, raw.Welcome.MaxBulkLanes);
            (FrameType? type, _) = await raw.ExchangeAsync(RawConnection.Frame(FrameType.Stats, []));
            Assert.Equal(FrameType.StatsReply, type);
            // Lane frames are not version 1.
            (_, RemoteErrorCode? code) = await raw.ExchangeAsync(RawConnection.Frame(FrameType.GetBulk, Messages.EncodeGetBulk(TestRecords.Key(3), 0, 0, 1)));
            Assert.Equal(RemoteErrorCode.UnexpectedFrame, code);
        }
    }

    [Fact]
    public async Task Concurrent_large_gets_share_the_lanes_while_small_lookups_proceed()
    {
        await using ServerFixture fixture = ServerFixture.Start();
        await using KvCacheClient client = await fixture.ConnectAsync(Lanes);
        var records = new byte[4][];
        for (int i = 0; i < records.Length; i++)
        {
            records[i] = TestRecords.Create(10 + i, tokens: 8192, contentSeed: i);
            await client.PutAsync(records[i]);
        }
        byte[] small = TestRecords.Create(20, tokens: 4);
        await client.PutAsync(small);

        var gets = new List<Task>();
        for (int round = 0; round < 3; round++)
        {
            for (int i = 0; i < records.Length; i++)
            {
                int at = i;
                gets.Add(Task.Run(async () => Assert.Equal(records[at], await client.GetAsync(TestRecords.Key(10 + at)))));
            }
        }
        var lookups = new List<Task>();
        for (int i = 0; i < 40; i++)
            lookups.Add(Task.Run(async () => Assert.Equal(new[] { true, false }, await client.ContainsAsync([TestRecords.Key(20), TestRecords.Key(99)]))));

        await Task.WhenAll([.. gets, .. lookups]).WaitAsync(NeverHang);
        Assert.True(fixture.Server.GetStatistics().BulkBodiesSent >= 1);
        Assert.Equal(small, await client.GetAsync(TestRecords.Key(20)));
    }

    [Fact]
    public async Task Bad_attach_tokens_proofs_and_replays_are_refused_and_disturb_nothing()
    {
        await using ServerFixture fixture = ServerFixture.Start();
        await using RawConnection owner = await RawConnection.AuthenticatedAsync(fixture.Port, ServerFixture.Secret, maxVersion: 2);
        byte[] token = owner.Welcome.BulkToken;
        Assert.Equal(4, owner.Welcome.MaxBulkLanes);
        Assert.Equal(ProtocolLimits.BulkTokenSize, token.Length);

        byte[] Attach(byte[] t, int lane, uint sequence, byte[]? secret = null) =>
            Messages.EncodeLaneAttach(t, lane, sequence, SharedSecret.LaneProof(secret ?? ServerFixture.Secret, t, lane, sequence));

        // Unknown token, wrong secret, a lane number beyond the server's limit.
        Assert.Equal(RemoteErrorCode.BulkLaneRefused, await RefusedAsync(fixture.Port, Attach(RandomNumberGenerator.GetBytes(32), 0, 1)));
        Assert.Equal(RemoteErrorCode.AuthenticationFailed, await RefusedAsync(fixture.Port, Attach(token, 0, 1, SharedSecret.FromString("another-secret-0123456789"))));
        Assert.Equal(RemoteErrorCode.BulkLaneRefused, await RefusedAsync(fixture.Port, Attach(token, 9, 2)));

        // A good attach, then the same bytes replayed, then an older sequence number for the same lane.
        byte[] good = Attach(token, 0, 5);
        await using (RawConnection lane = await RawConnection.ConnectAsync(fixture.Port))
        {
            await lane.SendHandshakeAsync(FrameType.LaneAttach, good);
            using ReceivedFrame ready = await lane.ReadHandshakeAsync(FrameType.LaneReady);
            (byte[] proof, int number) = Messages.DecodeLaneReady(ready.Payload);
            Assert.Equal(0, number);
            Assert.Equal(SharedSecret.LaneReadyProof(ServerFixture.Secret, token, 0, 5), proof);
            Assert.Equal(RemoteErrorCode.BulkLaneRefused, await RefusedAsync(fixture.Port, good));
            Assert.Equal(RemoteErrorCode.BulkLaneRefused, await RefusedAsync(fixture.Port, Attach(token, 0, 4)));
            Assert.Equal(1, fixture.Server.GetStatistics().BulkLanesAttached);
        }

        // The owner's connection, other clients and the store are undisturbed.
        (FrameType? type, _) = await owner.ExchangeAsync(RawConnection.Frame(FrameType.Health, []));
        Assert.Equal(FrameType.HealthReply, type);
        await using KvCacheClient client = await fixture.ConnectAsync(Lanes);
        byte[] record = TestRecords.Create(30, tokens: 8192);
        await client.PutAsync(record);
        Assert.Equal(record, await client.GetAsync(TestRecords.Key(30)));
        Assert.True(fixture.Server.GetStatistics().BulkLaneFailures >= 5);

        // A token dies with its connection.
        await owner.DisposeAsync();
        await WaitUntilAsync(() => fixture.Server.GetStatistics().OpenConnections == 1);
        Assert.Equal(RemoteErrorCode.BulkLaneRefused, await RefusedAsync(fixture.Port, Attach(token, 2, 9)));
    }

    [Fact]
    public async Task A_lane_body_with_a_wrong_head_or_cut_short_stores_nothing()
    {
        await using ServerFixture fixture = ServerFixture.Start();
        await using RawConnection owner = await RawConnection.AuthenticatedAsync(fixture.Port, ServerFixture.Secret, maxVersion: 2);
        byte[] token = owner.Welcome.BulkToken;
        byte[] record = TestRecords.Create(40, tokens: 64);
        ChunkKey key = TestRecords.Key(40);

        for (int attempt = 0; attempt < 2; attempt++)
        {
            uint sequence = (uint)(attempt + 1);
            await using RawConnection lane = await RawConnection.ConnectAsync(fixture.Port);
            await lane.SendHandshakeAsync(FrameType.LaneAttach, Messages.EncodeLaneAttach(token, 0, sequence, SharedSecret.LaneProof(ServerFixture.Secret, token, 0, sequence)));
            (await lane.ReadHandshakeAsync(FrameType.LaneReady)).Dispose();

            Task<(FrameType? Type, RemoteErrorCode? Code)> reply = owner.ExchangeAsync(RawConnection.Frame(FrameType.PutLane, Messages.EncodePutLane(record.Length, key, 0), requestId: 7), completeWriting: false);
            byte[] head = new byte[ProtocolLimits.LaneBodyHeaderSize];
            if (attempt == 0)
            {
                Messages.WriteLaneBodyHeader(head, 8, record.Length); // another request's id
                await lane.Stream.WriteAsync(head);
                await lane.Stream.WriteAsync(record);
            }
            else
            {
                Messages.WriteLaneBodyHeader(head, 7, record.Length);
                await lane.Stream.WriteAsync(head);
                await lane.Stream.WriteAsync(record.AsMemory(0, record.Length / 2)); // then the lane dies
                lane.Socket.Close();
            }

            (FrameType? type, RemoteErrorCode? code) = await reply.WaitAsync(NeverHang);
            Assert.Equal(FrameType.Error, type);
            Assert.Equal(RemoteErrorCode.BulkLaneFailed, code);
        }

        (FrameType? contains, _) = await owner.ExchangeAsync(RawConnection.Frame(FrameType.Contains, Messages.EncodeKeys([key])));
        Assert.Equal(FrameType.ContainsReply, contains);
        Assert.False(fixture.Server.Store.Contains(key));
        Assert.Equal(0, fixture.Server.GetStatistics().InFlightPutBytes);
    }

    [Fact]
    public async Task A_lane_cut_mid_put_fails_the_put_stores_nothing_and_the_connection_carries_on()
    {
        await using ServerFixture fixture = ServerFixture.Start();
        await using KvCacheClient client = await fixture.ConnectAsync(Lanes);
        byte[] record = TestRecords.Create(50, tokens: 8192, contentSeed: 5);
        client.LaneBodyMidway = client.BreakLane;

        var failed = await Assert.ThrowsAsync<RemoteProtocolException>(() => client.PutAsync(record).WaitAsync(NeverHang));

        Assert.True(failed.Code is RemoteErrorCode.BulkLaneFailed or RemoteErrorCode.BulkLaneLost, failed.Code.ToString());
        Assert.True(failed.IsTransient);
        client.LaneBodyMidway = null;
        Assert.False((await client.ContainsAsync([TestRecords.Key(50)]))[0]);
        Assert.False(fixture.Server.Store.Contains(TestRecords.Key(50)));
        await WaitUntilAsync(() => fixture.Server.GetStatistics().InFlightPutBytes == 0);
        await client.PutAsync(record).WaitAsync(NeverHang);
        Assert.Equal(record, await client.GetAsync(TestRecords.Key(50)).WaitAsync(NeverHang));
    }

    [Fact]
    public async Task A_lane_cut_mid_get_fails_the_get_and_the_connection_carries_on()
    {
        await using ServerFixture fixture = ServerFixture.Start();
        await using KvCacheClient client = await fixture.ConnectAsync(Lanes);
        byte[] record = TestRecords.Create(60, tokens: 8192, contentSeed: 6);
        await client.PutAsync(record);
        client.LaneBodyMidway = client.BreakLane;

        var failed = await Assert.ThrowsAsync<RemoteProtocolException>(() => client.GetAsync(TestRecords.Key(60)).WaitAsync(NeverHang));

        Assert.Equal(RemoteErrorCode.BulkLaneLost, failed.Code);
        client.LaneBodyMidway = null;
        Assert.True(client.IsConnected);
        Assert.True((await client.ContainsAsync([TestRecords.Key(60)]))[0]);
        // The lost lane is attached again in the background (replacing the server's end of it, if it still had one).
        await WaitUntilAsync(() => client.BulkLanesAttached == 2);
        for (int i = 0; i < 4; i++)
            Assert.Equal(record, await client.GetAsync(TestRecords.Key(60)).WaitAsync(NeverHang));
        Assert.True(client.LaneBodiesReceived >= 4);
    }

    [Fact]
    public async Task Lanes_to_a_TLS_server_are_TLS_too()
    {
        using X509Certificate2 certificate = TlsTests.SelfSigned();
        await using ServerFixture fixture = ServerFixture.Start(o => o with { Certificate = certificate });
        string pin = Convert.ToHexString(certificate.GetCertHash(HashAlgorithmName.SHA256));
        await using KvCacheClient client = await fixture.ConnectAsync(o => Lanes(o) with { UseTls = true, PinnedCertificateSha256 = pin, TlsTargetHost = "localhost" });
        byte[] record = TestRecords.Create(70, tokens: 8192, contentSeed: 7);

        Assert.Equal(2, client.BulkLanesAttached);
        await client.PutAsync(record).WaitAsync(NeverHang);
        Assert.Equal(record, await client.GetAsync(TestRecords.Key(70)).WaitAsync(NeverHang));
        RemoteStatistics stats = fixture.Server.GetStatistics();
        Assert.Equal(1, stats.BulkBodiesReceived);
        Assert.Equal(1, stats.BulkBodiesSent);

        // Plain bytes on a lane to a TLS server never reach the attach.
        await using RawConnection plain = await RawConnection.ConnectAsync(fixture.Port);
        await plain.SendHandshakeAsync(FrameType.LaneAttach, new byte[Messages.LaneAttachSize]);
        (_, bool closed) = await plain.ReadErrorAndCloseAsync();
        Assert.True(closed);
    }

    [Fact]
    public async Task Lane_options_are_validated_with_messages_that_name_them()
    {
        await using ServerFixture fixture = ServerFixture.Start();
        var lanes = await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => fixture.ConnectAsync(o => o with { BulkLanes = 0 }));
        var threshold = await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => fixture.ConnectAsync(o => o with { BulkLaneThresholdBytes = int.MaxValue }));
        var server = Assert.Throws<ArgumentOutOfRangeException>(() => new KvCacheServerOptions { Secret = ServerFixture.Secret, MaxBulkLanesPerConnection = -1 }.Validate());

        Assert.Contains(nameof(KvCacheClientOptions.BulkLanes), lanes.Message, StringComparison.Ordinal);
        Assert.Contains(nameof(KvCacheClientOptions.BulkLaneThresholdBytes), threshold.Message, StringComparison.Ordinal);
        Assert.Contains(nameof(KvCacheServerOptions.MaxBulkLanesPerConnection), server.Message, StringComparison.Ordinal);
    }

    private static async Task<RemoteErrorCode?> RefusedAsync(int port, byte[] attach)
    {
        await using RawConnection lane = await RawConnection.ConnectAsync(port);
        await lane.SendHandshakeAsync(FrameType.LaneAttach, attach);
        (RemoteErrorCode? code, bool closed) = await lane.ReadErrorAndCloseAsync();
        Assert.True(closed);
        return code;
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        long deadline = Environment.TickCount64 + (long)NeverHang.TotalMilliseconds;
        while (!condition())
        {
            Assert.True(Environment.TickCount64 < deadline, "the condition never held");
            await Task.Delay(10);
        }
    }
}
