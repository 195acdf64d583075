using Xunit;

namespace KvTier.Redis.Tests.Infrastructure;

/// <summary>A theory that needs Redis: skipped when none can be found or started, except under CI, where it runs and fails.</summary>
[AttributeUsage(AttributeTargets.Method, AllowMultiple = false)]
public sealed class RequiresRedisTheoryAttribute : TheoryAttribute
{
    public RequiresRedisTheoryAttribute()
    {
        if (RedisEnvironment.SkipReason is { } reason)
            Skip = reason;
    }
}
