using System.Runtime.InteropServices;
using System.Security.Cryptography;
using BenchmarkDotNet.Attributes;
using KvTier.Keys;
using KvTier.Layout;

namespace KvTier.Bench;

/// <summary>
/// Cost of deriving the prefix keys of a long prompt, against the floor: one SHA-256 pass over the same
/// token bytes. A ratio near 1 means the chain adds nothing beyond the hashing itself.
/// </summary>
[MemoryDiagnoser]
public class KeyDerivationBenchmarks
{
    private int[] _tokens = [];
    private ChunkKeys _keys = null!;

    /// <summary>Prompt length in tokens.</summary>
    [Params(4096, 32768)]
    public int Tokens { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(42);
        _tokens = Enumerable.Range(0, Tokens).Select(_ => random.Next(128256)).ToArray();
        var layout = new KvLayout(32, 8, 128, KvElementType.Float16, new RopeParameters(500000, 128, RopePairing.SplitHalves), true);
        _keys = new ChunkKeys("meta-llama/Meta-Llama-3-8B", layout);
    }

    /// <summary>Baseline: SHA-256 of the token bytes in one call.</summary>
    [Benchmark(Baseline = true)]
    public byte[] Sha256OfTokenBytes() => SHA256.HashData(MemoryMarshal.AsBytes(_tokens.AsSpan()));

    /// <summary>The prefix chain: one SHA-256 per 256-token chunk.</summary>
    [Benchmark]
    public ChunkKey[] PrefixKeys() => _keys.PrefixKeys(_tokens);

    /// <summary>Position-independent segment keys of every chunk.</summary>
    [Benchmark]
    public ChunkKey[] SegmentKeys() => _keys.SegmentKeys(_tokens);
}
