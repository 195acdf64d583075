using KvTier.Reference;
using Xunit;

namespace KvTier.Reference.Tests;

/// <summary>The KV cache exposes exactly its filled rows, loads from elsewhere, and copies prefixes.</summary>
public sealed class KvCacheTests
{
    [Fact]
    public void LoadedRowsAppearAfterSetLength()
    {
        var cache = new KvCache(layers: 2, kvDim: 3, capacity: 4);
        float[] keys = [1, 2, 3, 4, 5, 6];
        float[] values = [-1, -2, -3, -4, -5, -6];

        cache.Load(1, keys, values);
        Assert.Equal(0, cache.Keys(1).Length);
        cache.SetLength(2);

        Assert.Equal(keys, cache.Keys(1).ToArray());
        Assert.Equal(values, cache.Values(1).ToArray());
        Assert.Equal(new float[6], cache.Keys(0).ToArray());
        Assert.Equal(12, cache.WritableKeys(0).Length);
    }

    [Fact]
    public void WritableSpansFillTheCacheInPlace()
    {
        var cache = new KvCache(1, 2, 3);
        cache.WritableKeys(0)[4] = 7;
        cache.WritableValues(0)[5] = 8;
        cache.SetLength(3);

        Assert.Equal(7, cache.Keys(0)[4]);
        Assert.Equal(8, cache.Values(0)[5]);
    }

    [Fact]
    public void TakePrefixCopiesAndKeepsTheCapacity()
    {
        var cache = new KvCache(1, 2, 5);
        cache.Load(0, [1, 2, 3, 4, 5, 6], [6, 5, 4, 3, 2, 1]);
        cache.SetLength(3);

        KvCache prefix = cache.TakePrefix(2);
        cache.WritableKeys(0)[0] = 100;

        Assert.Equal(2, prefix.Length);
        Assert.Equal(5, prefix.Capacity);
        Assert.Equal([1f, 2, 3, 4], prefix.Keys(0).ToArray());
        Assert.Equal([6f, 5, 4, 3], prefix.Values(0).ToArray());
        Assert.Equal(0, cache.TakePrefix(0).Length);
    }

    [Fact]
    public void BadArgumentsAreRejected()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new KvCache(0, 1, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new KvCache(1, 0, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new KvCache(1, 1, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new KvCache(1, 65536, 1 << 20));
        var cache = new KvCache(2, 2, 2);
        Assert.Throws<ArgumentOutOfRangeException>(() => cache.Keys(2));
        Assert.Throws<ArgumentOutOfRangeException>(() => cache.Values(-1));
        Assert.Throws<ArgumentOutOfRangeException>(() => cache.SetLength(3));
        Assert.Throws<ArgumentOutOfRangeException>(() => cache.SetLength(-1));
        Assert.Throws<ArgumentOutOfRangeException>(() => cache.TakePrefix(1));
        Assert.Throws<ArgumentException>(() => cache.Load(0, [1, 2], [1]));
        Assert.Throws<ArgumentException>(() => cache.Load(0, [1, 2, 3], [1, 2, 3]));
        Assert.Throws<ArgumentException>(() => cache.Load(0, new float[6], new float[6]));
    }
}
