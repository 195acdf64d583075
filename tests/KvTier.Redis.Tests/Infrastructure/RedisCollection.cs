using Xunit;

namespace KvTier.Redis.Tests.Infrastructure;

/// <summary>The tests that share one Redis (<see cref="RedisFixture"/>).</summary>
[CollectionDefinition(Name)]
public sealed class RedisCollection : ICollectionFixture<RedisFixture>
{
    public const string Name = "redis";
}
