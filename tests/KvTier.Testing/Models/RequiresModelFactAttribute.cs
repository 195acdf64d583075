using Xunit;

namespace KvTier.Testing;

/// <summary>A fact that needs the stories260K files: skipped when they cannot be found, except under CI, where it runs and fails.</summary>
[AttributeUsage(AttributeTargets.Method, AllowMultiple = false)]
public sealed class RequiresModelFactAttribute : FactAttribute
{
    public RequiresModelFactAttribute()
    {
        if (ModelAvailability.SkipReason is { } reason)
            Skip = reason;
    }
}
