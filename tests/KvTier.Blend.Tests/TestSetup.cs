using System.Runtime.CompilerServices;

namespace KvTier.Blend.Tests;

internal static class TestSetup
{
    // Tests block thread-pool threads (store puts wait for the writer thread) while prefetch stages run on the pool; on a
    // two-core machine the pool's slow thread injection would stall them for seconds.
#pragma warning disable CA2255 // A module initializer in a test assembly is the only hook that runs before every test.
    [ModuleInitializer]
#pragma warning restore CA2255
    internal static void RaiseThreadPoolMinimum() => ThreadPool.SetMinThreads(16, 16);
}
