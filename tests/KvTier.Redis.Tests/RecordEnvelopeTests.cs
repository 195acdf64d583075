using KvTier.Redis.Tests.Infrastructure;
using KvTier.Testing.Records;
using Xunit;

namespace KvTier.Redis.Tests;

/// <summary>The envelope code against format-spec/redis-tier.md §3, written out independently (<see cref="RawEnvelope"/>), without Redis.</summary>
public sealed class RecordEnvelopeTests
{
    [Fact]
    public void Writes_the_layout_of_the_spec_and_opens_it()
    {
        byte[] record = TestRecords.Create(5);
        var value = new byte[RecordEnvelope.HeaderSize + record.Length];
        RecordEnvelope.Write(record, value);
        Assert.Equal(RawEnvelope.Wrap(record), value);

        Assert.True(RecordEnvelope.TryOpen(value, long.MaxValue, out Range range, out string? problem));
        Assert.Null(problem);
        Assert.Equal(record, value[range]);
    }

    [Fact]
    public void Refuses_a_record_over_the_limit_before_hashing_it()
    {
        byte[] record = TestRecords.Create(5);
        Assert.False(RecordEnvelope.TryOpen(RawEnvelope.Wrap(record), record.Length - 1, out _, out string? problem));
        Assert.Contains("limit", problem);
    }
}
