using KvTier.Remote.Protocol;
using KvTier.Remote.Server;
using KvTier.Storage;
using KvTier.Testing.Records;
using Xunit;

namespace KvTier.Remote.Tests;

/// <summary>Graceful shutdown: no new connections, requests in flight finish within the grace period, and what they stored is durable.</summary>
public class ShutdownTests
{
    [Fact]
    public async Task A_put_in_flight_when_the_server_stops_finishes_and_is_stored()
    {
        ServerFixture fixture = ServerFixture.Start(o => o with { ShutdownGracePeriod = TimeSpan.FromSeconds(30) });
        string directory = fixture.Directory;
        byte[] record = TestRecords.Create(3, tokens: 64);
        await using RawConnection raw = await RawConnection.AuthenticatedAsync(fixture.Port, ServerFixture.Secret);
        var channel = await raw.Mux!.OfferChannelAsync(ServerConnection.ChannelName);
        int half = record.Length / 2;
        await channel.Output.WriteAsync(RawConnection.Frame(FrameType.Put, Messages.EncodePut(record.Length, TestRecords.Key(3))));
        await channel.Output.WriteAsync(RawConnection.Frame(FrameType.Data, record[..half], end: false));
        for (int i = 0; i < 100 && fixture.Server.GetStatistics().ActiveRequests == 0; i++)
            await Task.Delay(20);

        Task stopping = fixture.Server.StopAsync();
        for (int i = 0; i < 100 && fixture.Server.IsAccepting; i++)
            await Task.Delay(20);
        var refused = await Assert.ThrowsAsync<RemoteProtocolException>(() => fixture.ConnectAsync(o => o with { ConnectTimeout = TimeSpan.FromSeconds(5) }));
        await channel.Output.WriteAsync(RawConnection.Frame(FrameType.Data, record[half..]));
        using ReceivedFrame? reply = await FrameCodec.ReadAsync(channel.Input, ProtocolLimits.MaxFramePayload, CancellationToken.None);
        await stopping.WaitAsync(TimeSpan.FromMinutes(1));
        await fixture.Server.DisposeAsync();

        Assert.Equal(RemoteErrorCode.ConnectionRefused, refused.Code);
        Assert.Equal(FrameType.PutOk, reply?.Type);
        using var reopened = KvStore.Open(new KvStoreOptions { Directory = directory, CreateIfMissing = false });
        Assert.True(reopened.TryRead(TestRecords.Key(3), out byte[]? stored));
        Assert.Equal(record, stored);
    }
}
