using KvTier.Format;
using KvTier.Remote.Protocol;
using Xunit;

namespace KvTier.Remote.Tests;

/// <summary>
/// The section checks that run beside a lane transfer (format-spec/protocol.md §12.3): a section is checked only once
/// all of its bytes have arrived; a sender is never told that bytes past a failed section are checked; stopping ends
/// the checks without checking what has not arrived.
/// </summary>
public class SectionPipelineTests
{
    private static readonly TimeSpan NeverHang = TimeSpan.FromSeconds(30);

    // Three sections, out of offset order in the table as a record's may be: [64, 164), [164, 364), [364, 365).
    private static readonly SectionEntry[] Sections =
    [
        new(1, SectionKind.Keys, 164, 200, 0),
        new(0, SectionKind.Keys, 64, 100, 0),
        new(1, SectionKind.Values, 364, 1, 0),
    ];

    [Fact]
    public async Task Sections_are_checked_in_offset_order_only_once_their_bytes_have_arrived()
    {
        var checkedOffsets = new List<long>();
        var pipeline = new SectionPipeline(Sections, s =>
        {
            lock (checkedOffsets)
                checkedOffsets.Add(s.Offset);
            return true;
        }, arrived: 0);

        pipeline.Arrived(200); // the first section (ends at 164) is in; the second (ends at 364) is not
        await WaitUntilAsync(() => Count(checkedOffsets) == 1);
        await Task.Delay(50);
        Assert.Equal([64L], Snapshot(checkedOffsets));
        Assert.False(pipeline.Completion.IsCompleted);

        pipeline.Arrived(365);
        Assert.True(await pipeline.Completion.WaitAsync(NeverHang));
        Assert.Equal([64L, 164L, 364L], Snapshot(checkedOffsets));
        Assert.Equal(365, pipeline.SectionsEnd);
    }

    [Fact]
    public async Task A_sender_is_never_told_that_bytes_past_a_failed_section_are_checked()
    {
        var pipeline = new SectionPipeline(Sections, s => s.Offset != 164, arrived: 365); // the middle section is corrupt

        long first = await pipeline.CheckedThroughAsync(0, CancellationToken.None).AsTask().WaitAsync(NeverHang);
        long next = await pipeline.CheckedThroughAsync(first, CancellationToken.None).AsTask().WaitAsync(NeverHang);

        Assert.Equal(164, first); // header bytes and the first section
        Assert.Equal(-1, next); // nothing from 164 on may be sent
        Assert.False(await pipeline.Completion.WaitAsync(NeverHang));
    }

    [Fact]
    public async Task Stopping_ends_the_checks_without_checking_what_has_not_arrived()
    {
        int checks = 0;
        var pipeline = new SectionPipeline(Sections, _ =>
        {
            Interlocked.Increment(ref checks);
            return true;
        }, arrived: 100); // not even the first section

        pipeline.Stop();

        Assert.False(await pipeline.Completion.WaitAsync(NeverHang));
        Assert.Equal(0, Volatile.Read(ref checks));
        Assert.Equal(-1, await pipeline.CheckedThroughAsync(0, CancellationToken.None).AsTask().WaitAsync(NeverHang));
    }

    private static int Count(List<long> list)
    {
        lock (list)
            return list.Count;
    }

    private static long[] Snapshot(List<long> list)
    {
        lock (list)
            return [.. list];
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        for (int i = 0; i < 3000 && !condition(); i++)
            await Task.Delay(10);
        Assert.True(condition());
    }
}
