using Xunit;

namespace KvTier.Remote.Tests;

/// <summary>Tests that measure the process's managed memory run alone, so that other tests' allocations do not blur the measurement.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class MemoryMeasurementCollection
{
    public const string Name = "memory measurement";
}
