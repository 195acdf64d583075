using KvTier.Keys;
using KvTier.Testing.Records;
using Xunit;

namespace KvTier.Storage.Tests;

/// <summary>LongestPrefix counts the stored keys of a chain from its start, stopping at the first missing one.</summary>
public sealed class LongestPrefixTests
{
    [Fact]
    public void The_prefix_stops_at_the_first_missing_key_and_follows_puts_and_deletes()
    {
        using var dir = new StoreDirectory();
        ChunkKey[] chain = [.. Enumerable.Range(0, 10).Select(id => TestRecords.Key(id))];
        using (KvStore store = KvStore.Open(dir.Options()))
        {
            Assert.Equal(0, store.LongestPrefix(chain));
            Assert.Equal(0, store.LongestPrefix([]));
            for (int id = 0; id < 6; id++)
                store.Put(TestRecords.Create(id));
            store.Put(TestRecords.Create(7)); // Past a gap: does not count.
            Assert.Equal(6, store.LongestPrefix(chain));
            Assert.Equal(3, store.LongestPrefix(chain.AsSpan(0, 3)));
            Assert.Equal(0, store.LongestPrefix(chain.AsSpan(6)));

            store.Put(TestRecords.Create(6));
            Assert.Equal(8, store.LongestPrefix(chain));
            Assert.True(store.Delete(chain[2]));
            Assert.Equal(2, store.LongestPrefix(chain));
            Assert.True(store.Evict(chain[0]));
            Assert.Equal(0, store.LongestPrefix(chain));
            store.Put(TestRecords.Create(0));
            store.Put(TestRecords.Create(2));
        }
        using (KvStore store = KvStore.Open(dir.Options()))
        {
            Assert.Equal(8, store.LongestPrefix(chain));
            for (int id = 8; id < 10; id++)
                store.Put(TestRecords.Create(id));
            Assert.Equal(10, store.LongestPrefix(chain));
        }
    }
}
