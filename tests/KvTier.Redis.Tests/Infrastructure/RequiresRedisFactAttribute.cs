using Xunit;

namespace KvTier.Redis.Tests.Infrastructure;

/// <summary>A fact that needs Redis: skipped when none can be found or started, except under CI, where it runs and fails.</summary>
[AttributeUsage(AttributeTargets.Method, AllowMultiple = false)]
public sealed class RequiresRedisFactAttribute : FactAttribute
{
    public RequiresRedisFactAttribute()
    {
        if (RedisEnvironment.SkipReason is { } reason)
            Skip = reason;
    }
}
