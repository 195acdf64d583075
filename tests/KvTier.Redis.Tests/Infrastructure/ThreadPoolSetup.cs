using System.Runtime.CompilerServices;

namespace KvTier.Redis.Tests.Infrastructure;

internal static class ThreadPoolSetup
{
    // CI has 2 cores: without this, StackExchange.Redis completions and xunit's parallel tests starve the pool and
    // time out for reasons that have nothing to do with the code under test.
#pragma warning disable CA2255
    [ModuleInitializer]
#pragma warning restore CA2255
    internal static void Raise() => ThreadPool.SetMinThreads(32, 32);
}
