using System.Runtime.CompilerServices;

namespace KvTier.Remote.Tests;

internal static class TestSetup
{
    // CI has 2 cores: socket continuations, multiplexer pumps and blocking store calls must not starve each other.
    [ModuleInitializer]
    internal static void RaiseThreadPoolMinimum() => ThreadPool.SetMinThreads(64, 64);
}
