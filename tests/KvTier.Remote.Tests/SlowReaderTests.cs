using KvTier.Remote.Protocol;
using KvTier.Testing.Records;
using Xunit;

namespace KvTier.Remote.Tests;

/// <summary>
/// A client that stops reading its socket: the multiplexer's flow control holds back the server's writes, so the
/// server's memory stays bounded; other clients are served; the stalled requests end at the request timeout. Runs
/// alone (<see cref="MemoryMeasurementCollection"/>) because it measures the process's managed memory.
/// </summary>
[Collection(MemoryMeasurementCollection.Name)]
public class SlowReaderTests
{
    [Fact]
    public async Task A_client_that_stops_reading_does_not_grow_server_memory_and_others_are_served()
    {
        await using ServerFixture fixture = ServerFixture.Start(o => o with { RequestTimeout = TimeSpan.FromSeconds(2) });
        byte[] record = TestRecords.Create(1, tokens: 16384, contentSeed: 1); // ~2 MiB
        await using (KvCacheClient writer = await fixture.ConnectAsync())
            await writer.PutAsync(record);
        await using RawConnection stalled = await RawConnection.AuthenticatedAsync(fixture.Port, ServerFixture.Secret);
        long before = GC.GetTotalMemory(forceFullCollection: true);

        // 32 gets of 2 MiB (64 MiB if the server buffered them) whose replies are never read: the client stops reading
        // its socket once the channels are open.
        var channels = new List<Nerdbank.Streams.MultiplexingStream.Channel>();
        for (int i = 0; i < 32; i++)
            channels.Add(await stalled.Mux!.OfferChannelAsync(Server.ServerConnection.ChannelName));
        stalled.Reads!.Pause();
        foreach (var channel in channels)
            await channel.Output.WriteAsync(RawConnection.Frame(FrameType.Get, Messages.EncodeGet(TestRecords.Key(1), 0, 0)));
        for (int i = 0; i < 50 && fixture.Server.GetStatistics().ActiveRequests < 32; i++)
            await Task.Delay(20);
        await Task.Delay(500);
        long during = GC.GetTotalMemory(forceFullCollection: true);

        await using (KvCacheClient other = await fixture.ConnectAsync())
        {
            Assert.Equal(record, await other.GetAsync(TestRecords.Key(1)));
            await other.PutAsync(TestRecords.Create(2));
        }
        Assert.True(during - before < 24L << 20, $"server memory grew by {(during - before) >> 20} MiB for replies nobody reads");

        // The stalled requests end at the request timeout; they do not hold the server forever.
        for (int i = 0; i < 300 && fixture.Server.GetStatistics().ActiveRequests > 0; i++)
            await Task.Delay(100);
        Assert.Equal(0, fixture.Server.GetStatistics().ActiveRequests);
        foreach (var c in channels)
            c.Dispose();
    }
}
