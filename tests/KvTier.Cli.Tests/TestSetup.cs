using System.Runtime.CompilerServices;

namespace KvTier.Cli.Tests;

internal static class TestSetup
{
    // The test host itself keeps pool threads blocked (its message loop polls a socket on one, the xunit adapter waits on
    // another); on a two-core machine the pool's minimum is two, so the prefetcher's and the store's async stages would
    // wait for the pool's slow thread injection (a 0.9 s stall was measured in a prefill, with dotnet-stack showing those
    // two threads).
#pragma warning disable CA2255 // A module initializer in a test assembly is the only hook that runs before every test.
    [ModuleInitializer]
#pragma warning restore CA2255
    internal static void RaiseThreadPoolMinimum() => ThreadPool.SetMinThreads(16, 16);
}
