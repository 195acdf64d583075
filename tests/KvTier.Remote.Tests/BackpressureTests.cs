using KvTier.Remote.Protocol;
using KvTier.Remote.Server;
using KvTier.Testing.Records;
using Xunit;

namespace KvTier.Remote.Tests;

/// <summary>
/// The put memory budget: a put that does not fit waits (backpressure) until the put holding the budget completes;
/// the budget itself serves waiters in order and gives up on cancellation (the server's Busy).
/// </summary>
public class BackpressureTests
{
    [Fact]
    public async Task A_put_that_does_not_fit_the_memory_budget_waits_until_the_budget_is_free()
    {
        const long budget = 64 << 10;
        await using ServerFixture fixture = ServerFixture.Start(o => o with
        {
            MaxRecordBytes = budget, MaxPutBytesPerConnection = budget, MaxInFlightPutBytes = budget, RequestTimeout = TimeSpan.FromSeconds(60),
        });
        byte[] first = TestRecords.Create(1, tokens: 400); // ~51 KiB: two do not fit in 64 KiB
        byte[] second = TestRecords.Create(2, tokens: 400);
        Assert.InRange(first.Length, budget / 2 + 1, budget);
        await using RawConnection raw = await RawConnection.AuthenticatedAsync(fixture.Port, ServerFixture.Secret);
        var channel = await raw.Mux!.OfferChannelAsync(ServerConnection.ChannelName);
        await channel.Output.WriteAsync(RawConnection.Frame(FrameType.Put, Messages.EncodePut(first.Length, TestRecords.Key(1))));
        await channel.Output.WriteAsync(RawConnection.Frame(FrameType.Data, first[..1000], end: false));
        for (int i = 0; i < 500 && fixture.Server.GetStatistics().InFlightPutBytes == 0; i++)
            await Task.Delay(10);
        Assert.Equal(first.Length, fixture.Server.GetStatistics().InFlightPutBytes);

        await using KvCacheClient other = await fixture.ConnectAsync();
        Task<Keys.ChunkKey> waiting = other.PutAsync(second);
        for (int i = 0; i < 500 && fixture.Server.GetStatistics().ActiveRequests < 2; i++)
            await Task.Delay(10);
        Assert.False(waiting.IsCompleted); // It cannot complete while the first put holds the budget.
        Assert.False(fixture.Server.Store.Contains(TestRecords.Key(2)));

        await channel.Output.WriteAsync(RawConnection.Frame(FrameType.Data, first[1000..]));
        using ReceivedFrame? reply = await FrameCodec.ReadAsync(channel.Input, ProtocolLimits.MaxFramePayload, CancellationToken.None);
        Assert.Equal(FrameType.PutOk, reply?.Type);
        Assert.Equal(TestRecords.Key(2), await waiting.WaitAsync(TimeSpan.FromMinutes(1)));
        Assert.True(fixture.Server.Store.Contains(TestRecords.Key(1)));
        Assert.True(fixture.Server.Store.Contains(TestRecords.Key(2)));
        Assert.Equal(0, fixture.Server.GetStatistics().InFlightPutBytes);
    }

    [Fact]
    public async Task The_budget_serves_waiters_in_order_and_a_cancelled_waiter_takes_nothing()
    {
        var budget = new ByteBudget(100);
        await budget.AcquireAsync(80, CancellationToken.None);
        using var cancel = new CancellationTokenSource();
        ValueTask large = budget.AcquireAsync(50, cancel.Token);
        ValueTask small = budget.AcquireAsync(10, CancellationToken.None);

        Assert.False(large.IsCompleted);
        Assert.False(small.IsCompleted); // Behind the large one, though 10 bytes are free: no starvation of large puts.
        cancel.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await large);
        await small.AsTask().WaitAsync(TimeSpan.FromMinutes(1));
        Assert.Equal(90, budget.InUse);
        budget.Release(90);
        Assert.Equal(0, budget.InUse);
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await budget.AcquireAsync(101, CancellationToken.None));
    }
}
