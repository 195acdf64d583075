using System.Buffers.Binary;
using KvTier.Keys;
using KvTier.Remote.Protocol;
using KvTier.Testing.Records;
using Xunit;

namespace KvTier.Remote.Tests;

/// <summary>
/// What the server does with bad input (format-spec/protocol.md §9): a typed error, the connection closed where the
/// stream can no longer be trusted, nothing stored, and the server still serving everyone else.
/// </summary>
public class BadInputTests
{
    [Fact]
    public async Task Garbage_instead_of_a_hello_is_refused_and_the_connection_closed()
    {
        await using ServerFixture fixture = ServerFixture.Start();
        await using RawConnection raw = await RawConnection.ConnectAsync(fixture.Port);
        await raw.Stream.WriteAsync("GET / HTTP/1.1\r\nHost: x\r\n\r\n"u8.ToArray());

        (RemoteErrorCode? code, bool closed) = await raw.ReadErrorAndCloseAsync();

        Assert.True(closed);
        Assert.NotNull(code);
        await AssertServerStillServes(fixture);
    }

    [Fact]
    public async Task An_oversized_handshake_frame_is_refused_before_anything_is_read_for_it()
    {
        await using ServerFixture fixture = ServerFixture.Start();
        await using RawConnection raw = await RawConnection.ConnectAsync(fixture.Port);
        byte[] header = new byte[ProtocolLimits.FrameHeaderSize];
        new FrameHeader(0, FrameType.Hello, true, 0).Write(header);
        BinaryPrimitives.WriteUInt32LittleEndian(header, uint.MaxValue);
        await raw.Stream.WriteAsync(header);

        (RemoteErrorCode? code, bool closed) = await raw.ReadErrorAndCloseAsync();

        Assert.Equal(RemoteErrorCode.FrameTooLarge, code);
        Assert.True(closed);
        await AssertServerStillServes(fixture);
    }

    [Fact]
    public async Task A_hello_without_a_common_version_gets_UnsupportedVersion()
    {
        await using ServerFixture fixture = ServerFixture.Start();
        await using RawConnection raw = await RawConnection.ConnectAsync(fixture.Port);
        await raw.SendHandshakeAsync(FrameType.Hello, Messages.EncodeHello(7, 9, new byte[ProtocolLimits.NonceSize]));

        (RemoteErrorCode? code, bool closed) = await raw.ReadErrorAndCloseAsync();

        Assert.Equal(RemoteErrorCode.UnsupportedVersion, code);
        Assert.True(closed);
    }

    [Fact]
    public async Task A_wrong_token_fails_authentication_and_the_right_one_still_works()
    {
        await using ServerFixture fixture = ServerFixture.Start();
        byte[] wrong = SharedSecret.FromString("not-the-secret-0123456789abcdef");

        var e = await Assert.ThrowsAsync<RemoteProtocolException>(() => fixture.ConnectAsync(o => o with { Secret = wrong }));

        Assert.Equal(RemoteErrorCode.AuthenticationFailed, e.Code);
        Assert.True((await fixture.ConnectAsync()).IsConnected);
        Assert.Contains(fixture.Log.Entries, l => l.Message.Contains("AuthenticationFailed", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_silent_connection_is_closed_at_the_handshake_timeout()
    {
        await using ServerFixture fixture = ServerFixture.Start(o => o with { HandshakeTimeout = TimeSpan.FromMilliseconds(200) });
        await using RawConnection raw = await RawConnection.ConnectAsync(fixture.Port);

        (_, bool closed) = await raw.ReadErrorAndCloseAsync(); // Bounded by its own 30 s guard.

        Assert.True(closed);
    }

    [Theory]
    [InlineData("oversized")]
    [InlineData("reserved-flags")]
    [InlineData("reserved-field")]
    [InlineData("unknown-type")]
    [InlineData("reply-type")]
    [InlineData("short-get")]
    [InlineData("too-many-keys")]
    [InlineData("bad-list-limit")]
    [InlineData("zero-length-put")]
    [InlineData("huge-put")]
    [InlineData("truncated-header")]
    public async Task Malformed_channel_frames_get_typed_errors_and_the_connection_keeps_serving(string kind)
    {
        await using ServerFixture fixture = ServerFixture.Start();
        await using RawConnection raw = await RawConnection.AuthenticatedAsync(fixture.Port, ServerFixture.Secret);
        (byte[] bytes, RemoteErrorCode? expected) = kind switch
        {
            "oversized" => (Header(ProtocolLimits.MaxFramePayload + 1, (byte)FrameType.Get, 1, 0), RemoteErrorCode.FrameTooLarge),
            "reserved-flags" => (Header(0, (byte)FrameType.Stats, 0x80, 0), RemoteErrorCode.MalformedFrame),
            "reserved-field" => (Header(0, (byte)FrameType.Stats, 1, 7), RemoteErrorCode.MalformedFrame),
            "unknown-type" => (RawConnection.Frame((FrameType)0x55, [1, 2, 3]), RemoteErrorCode.UnexpectedFrame),
            "reply-type" => (RawConnection.Frame(FrameType.PutOk, new byte[32]), RemoteErrorCode.UnexpectedFrame),
            "short-get" => (RawConnection.Frame(FrameType.Get, new byte[5]), RemoteErrorCode.MalformedFrame),
            "too-many-keys" => (RawConnection.Frame(FrameType.Contains, KeyList(ProtocolLimits.MaxKeysPerLookup + 1)), RemoteErrorCode.LimitExceeded),
            "bad-list-limit" => (RawConnection.Frame(FrameType.List, Messages.EncodeList(null, ProtocolLimits.MaxListPage + 1)), RemoteErrorCode.LimitExceeded),
            "zero-length-put" => (RawConnection.Frame(FrameType.Put, Messages.EncodePut(0, TestRecords.Key(1))), RemoteErrorCode.LimitExceeded),
            "huge-put" => (RawConnection.Frame(FrameType.Put, Messages.EncodePut(1L << 40, TestRecords.Key(1))), RemoteErrorCode.LimitExceeded),
            "truncated-header" => (new byte[5], (RemoteErrorCode?)null),
            _ => throw new ArgumentOutOfRangeException(nameof(kind)),
        };

        (FrameType? type, RemoteErrorCode? code) = await raw.ExchangeAsync(bytes);

        if (expected is null)
        {
            Assert.NotEqual(FrameType.StatsReply, type); // A truncated frame is never answered as a request.
        }
        else
        {
            Assert.Equal(FrameType.Error, type);
            Assert.Equal(expected, code);
        }
        // The same connection still serves well-formed requests on new channels.
        (FrameType? ok, _) = await raw.ExchangeAsync(RawConnection.Frame(FrameType.Health, []));
        Assert.Equal(FrameType.HealthReply, ok);
        await AssertServerStillServes(fixture);
    }

    [Fact]
    public async Task A_truncated_put_stores_nothing()
    {
        await using ServerFixture fixture = ServerFixture.Start();
        await using RawConnection raw = await RawConnection.AuthenticatedAsync(fixture.Port, ServerFixture.Secret);
        byte[] record = TestRecords.Create(42, tokens: 64);
        byte[] half = record[..(record.Length / 2)];
        byte[] bytes = [.. RawConnection.Frame(FrameType.Put, Messages.EncodePut(record.Length, TestRecords.Key(42))), .. RawConnection.Frame(FrameType.Data, half, end: false)];

        (FrameType? type, RemoteErrorCode? code) = await raw.ExchangeAsync(bytes); // Writing completes after half the body.

        Assert.True(type is null || code is RemoteErrorCode.ConnectionLost or RemoteErrorCode.LengthMismatch, $"{type} {code}");
        Assert.False(fixture.Server.Store.Contains(TestRecords.Key(42)));
        Assert.Equal(0, fixture.Server.GetStatistics().InFlightPutBytes);
    }

    [Theory]
    [InlineData("longer-than-announced")]
    [InlineData("shorter-than-announced")]
    [InlineData("not-a-record")]
    [InlineData("key-differs")]
    [InlineData("corrupt-section")]
    [InlineData("other-frame-in-body")]
    public async Task A_put_whose_body_is_wrong_is_refused_and_stores_nothing(string kind)
    {
        await using ServerFixture fixture = ServerFixture.Start();
        await using RawConnection raw = await RawConnection.AuthenticatedAsync(fixture.Port, ServerFixture.Secret);
        byte[] record = TestRecords.Create(7, tokens: 8);
        ChunkKey key = TestRecords.Key(7);
        byte[] corrupt = (byte[])record.Clone();
        corrupt[^3] ^= 0x40;
        (long announced, ChunkKey announcedKey, byte[] body, FrameType bodyType, RemoteErrorCode expected) = kind switch
        {
            "longer-than-announced" => ((long)record.Length - 1, key, record, FrameType.Data, RemoteErrorCode.LengthMismatch),
            "shorter-than-announced" => ((long)record.Length + 1, key, record, FrameType.Data, RemoteErrorCode.LengthMismatch),
            "not-a-record" => ((long)record.Length, key, new byte[record.Length], FrameType.Data, RemoteErrorCode.InvalidRecord),
            "key-differs" => ((long)record.Length, TestRecords.Key(8), record, FrameType.Data, RemoteErrorCode.InvalidRecord),
            "corrupt-section" => ((long)record.Length, key, corrupt, FrameType.Data, RemoteErrorCode.InvalidRecord),
            "other-frame-in-body" => ((long)record.Length, key, record, FrameType.Get, RemoteErrorCode.UnexpectedFrame),
            _ => throw new ArgumentOutOfRangeException(nameof(kind)),
        };
        byte[] bytes = [.. RawConnection.Frame(FrameType.Put, Messages.EncodePut(announced, announcedKey)), .. RawConnection.Frame(bodyType, body)];

        (FrameType? type, RemoteErrorCode? code) = await raw.ExchangeAsync(bytes);

        Assert.Equal(FrameType.Error, type);
        Assert.Equal(expected, code);
        Assert.False(fixture.Server.Store.Contains(key));
        Assert.False(fixture.Server.Store.Contains(TestRecords.Key(8)));
        Assert.Equal(0, fixture.Server.Store.GetStatistics().Entries);
    }

    [Fact]
    public async Task A_thousand_idle_connections_do_not_stop_the_server_serving()
    {
        await using ServerFixture fixture = ServerFixture.Start();
        var idle = new List<KvCacheClient>();
        try
        {
            // Without bulk lanes: each would be one more socket, attached in the background while OpenConnections is read.
            for (int batch = 0; batch < 10; batch++)
                idle.AddRange(await Task.WhenAll(Enumerable.Range(0, 100).Select(_ => fixture.ConnectAsync(o => o with { BulkLaneThresholdBytes = 0 }))));

            Assert.Equal(1000, fixture.Server.GetStatistics().OpenConnections);
            await using KvCacheClient active = await fixture.ConnectAsync();
            await active.PutAsync(TestRecords.Create(9));
            Assert.NotNull(await idle[^1].GetAsync(TestRecords.Key(9)));
            Assert.All(idle, c => Assert.True(c.IsConnected));
        }
        finally
        {
            foreach (KvCacheClient c in idle)
                await c.DisposeAsync();
        }
    }

    [Fact]
    public async Task An_idle_authenticated_connection_is_closed_at_the_idle_timeout()
    {
        await using ServerFixture fixture = ServerFixture.Start(o => o with { IdleTimeout = TimeSpan.FromMilliseconds(300) });
        await using KvCacheClient client = await fixture.ConnectAsync();

        for (int i = 0; i < 300 && client.IsConnected; i++)
            await Task.Delay(100);

        Assert.False(client.IsConnected);
        var e = await Assert.ThrowsAsync<RemoteProtocolException>(() => client.GetHealthAsync());
        Assert.Equal(RemoteErrorCode.ConnectionLost, e.Code);
    }

    private static byte[] Header(uint length, byte type, byte flags, ushort reserved)
    {
        var b = new byte[ProtocolLimits.FrameHeaderSize];
        BinaryPrimitives.WriteUInt32LittleEndian(b, length);
        b[4] = type;
        b[5] = flags;
        BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(6), reserved);
        return b;
    }

    private static byte[] KeyList(int count)
    {
        var b = new byte[8 + count * ChunkKey.Size];
        BinaryPrimitives.WriteUInt32LittleEndian(b, (uint)count);
        return b;
    }

    private static async Task AssertServerStillServes(ServerFixture fixture)
    {
        await using KvCacheClient client = await fixture.ConnectAsync();
        byte[] record = TestRecords.Create(100);
        await client.PutAsync(record);
        Assert.Equal(record, await client.GetAsync(TestRecords.Key(100)));
    }
}
