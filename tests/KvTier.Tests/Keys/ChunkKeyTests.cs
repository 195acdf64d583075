using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using KvTier.Keys;
using Xunit;

namespace KvTier.Tests.Keys;

public sealed class ChunkKeyTests
{
    private static Arbitrary<byte[]> KeyBytes() => ArbMap.Default.GeneratorFor<byte>().ArrayOf(32).ToArbitrary();

    [Property]
    public Property Hex_and_byte_round_trips_preserve_the_key() =>
        Prop.ForAll(KeyBytes(), bytes =>
        {
            ChunkKey key = ChunkKey.FromBytes(bytes);
            Assert.Equal(bytes, key.ToArray());
            Assert.Equal(Convert.ToHexStringLower(bytes), key.ToString());
            Assert.Equal(key, ChunkKey.Parse(key.ToString()));
            Assert.Equal(key, ChunkKey.Parse(key.ToString().ToUpperInvariant()));
        });

    [Property]
    public Property Ordering_is_lexicographic_byte_order() =>
        Prop.ForAll(KeyBytes(), KeyBytes(), (a, b) =>
        {
            int expected = Math.Sign(a.AsSpan().SequenceCompareTo(b));
            Assert.Equal(expected, Math.Sign(ChunkKey.FromBytes(a).CompareTo(ChunkKey.FromBytes(b))));
            Assert.Equal(expected == 0, ChunkKey.FromBytes(a) == ChunkKey.FromBytes(b));
        });

    [Theory]
    [InlineData("")]
    [InlineData("00")]
    [InlineData("zz00000000000000000000000000000000000000000000000000000000000000")]
    [InlineData("000000000000000000000000000000000000000000000000000000000000000000")]
    public void Malformed_hex_is_rejected(string hex)
    {
        Assert.False(ChunkKey.TryParse(hex, out _));
        Assert.Throws<FormatException>(() => ChunkKey.Parse(hex));
    }

    [Fact]
    public void Wrong_byte_count_is_rejected()
    {
        Assert.Throws<ArgumentException>(() => ChunkKey.FromBytes(new byte[31]));
        Assert.Throws<ArgumentException>(() => default(ChunkKey).CopyTo(new byte[31]));
    }
}
