using Xunit;

namespace KvTier.Redis.Tests.Infrastructure;

/// <summary>
/// A fact that starts and kills its own redis-server process: skipped when the binary is not installed, except under
/// CI, where it runs and fails.
/// </summary>
[AttributeUsage(AttributeTargets.Method, AllowMultiple = false)]
public sealed class RequiresRedisServerFactAttribute : FactAttribute
{
    public RequiresRedisServerFactAttribute()
    {
        if (RedisEnvironment.ServerSkipReason is { } reason)
            Skip = reason;
    }
}
