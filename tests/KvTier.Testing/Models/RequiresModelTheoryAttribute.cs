using Xunit;

namespace KvTier.Testing;

/// <summary>A theory that needs the stories260K files: skipped when they cannot be found, except under CI, where it runs and fails.</summary>
[AttributeUsage(AttributeTargets.Method, AllowMultiple = false)]
public sealed class RequiresModelTheoryAttribute : TheoryAttribute
{
    public RequiresModelTheoryAttribute()
    {
        if (ModelAvailability.SkipReason is { } reason)
            Skip = reason;
    }
}
