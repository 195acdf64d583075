using KvTier.Keys;
using KvTier.Layout;

namespace KvTier.Tests.Keys;

internal static class TestLayouts
{
    public static KvLayout Stories260K { get; } =
        new(5, 4, 8, KvElementType.Float32, new RopeParameters(10000, 8, RopePairing.AdjacentPairs), keysStoredAfterRope: true);

    public static ChunkKeys Keys(string ns = "", int chunkTokens = 4) => new("stories260K", Stories260K, ns, chunkTokens);
}
