using KvTier.Prefetch.Staging;
using Xunit;

namespace KvTier.Prefetch.Tests;

/// <summary>The staging pool never holds more than its budget, serves waiters in order, and gives up cleanly on cancellation.</summary>
public sealed class StagingBudgetTests
{
    [Fact]
    public async Task Concurrent_renters_never_exceed_the_budget_and_all_finish()
    {
        const long budget = 64 << 10;
        using var pool = new StagingPool(budget);
        long peak = 0;
        var random = new Random(7);
        int[] sizes = [.. Enumerable.Range(0, 400).Select(_ => random.Next(1, 20_000))];
        await Task.WhenAll(Enumerable.Range(0, 8).Select(worker => Task.Run(async () =>
        {
            for (int i = worker; i < sizes.Length; i += 8)
            {
                StagingBuffer buffer = await pool.RentAsync(sizes[i], CancellationToken.None);
                Assert.True(buffer.Capacity >= sizes[i]);
                Assert.Equal(0, Address(buffer) % StagingPool.Alignment);
                buffer.Block[..sizes[i]].Fill((byte)worker);
                long allocated = pool.AllocatedBytes;
                InterlockedMax(ref peak, allocated);
                await Task.Yield();
                pool.Return(buffer);
            }
        }))).WaitAsync(TimeSpan.FromSeconds(20));
        Assert.True(peak <= budget, $"peak {peak} over the budget {budget}");
        Assert.Equal(0, pool.RentedBytes);
        Assert.Equal(0, pool.RentedBuffers);
    }

    [Fact]
    public async Task A_waiter_gets_its_block_when_enough_is_returned_and_in_order()
    {
        using var pool = new StagingPool(8192);
        StagingBuffer a = await pool.RentAsync(4096, CancellationToken.None);
        StagingBuffer b = await pool.RentAsync(4096, CancellationToken.None);
        ValueTask<StagingBuffer> first = pool.RentAsync(8000, CancellationToken.None);
        ValueTask<StagingBuffer> second = pool.RentAsync(100, CancellationToken.None);
        Assert.False(first.IsCompleted);
        Assert.False(second.IsCompleted); // Behind the first: no overtaking, so a large rent is never starved.
        pool.Return(a);
        Assert.False(first.IsCompleted);
        pool.Return(b);
        StagingBuffer big = await first;
        Assert.Equal(8192, big.Capacity);
        Assert.False(second.IsCompleted);
        pool.Return(big);
        pool.Return(await second);
        Assert.Equal(2, pool.Waits);
        Assert.True(pool.AllocatedBytes <= 8192);
    }

    [Fact]
    public async Task A_cancelled_waiter_leaves_the_queue_and_lets_the_next_one_through()
    {
        using var pool = new StagingPool(8192);
        StagingBuffer held = await pool.RentAsync(3000, CancellationToken.None); // A 4 KiB block: half the budget.
        using var cancel = new CancellationTokenSource();
        ValueTask<StagingBuffer> blocked = pool.RentAsync(8000, cancel.Token);
        ValueTask<StagingBuffer> small = pool.RentAsync(1000, CancellationToken.None);
        Assert.False(small.IsCompleted);
        cancel.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await blocked);
        StagingBuffer got = await small.AsTask().WaitAsync(TimeSpan.FromSeconds(5));
        pool.Return(got);
        pool.Return(held);
        Assert.Equal(0, pool.RentedBytes);
    }

    [Fact]
    public void A_rent_larger_than_the_budget_is_refused_rather_than_queued()
    {
        using var pool = new StagingPool(1000);
        Assert.Throws<ArgumentOutOfRangeException>(() => pool.RentAsync(1001, CancellationToken.None));
    }

    [Fact]
    public async Task Dispose_frees_cached_blocks_and_blocks_returned_later()
    {
        var pool = new StagingPool(1 << 20);
        StagingBuffer kept = await pool.RentAsync(10_000, CancellationToken.None);
        pool.Return(await pool.RentAsync(10_000, CancellationToken.None));
        Assert.Equal(2 * 16384, pool.AllocatedBytes);
        pool.Dispose();
        Assert.Equal(16384, pool.AllocatedBytes);
        pool.Return(kept);
        Assert.Equal(0, pool.AllocatedBytes);
    }

    private static unsafe long Address(StagingBuffer buffer) => (long)buffer.Pointer;

    private static void InterlockedMax(ref long target, long value)
    {
        long current;
        while (value > (current = Interlocked.Read(ref target)) && Interlocked.CompareExchange(ref target, value, current) != current)
        {
        }
    }
}
