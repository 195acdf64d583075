using BenchmarkDotNet.Attributes;
using KvTier.Format;
using KvTier.Format.Codecs;
using KvTier.Format.Codecs.Ans;
using KvTier.Layout;

using KvTier.Format.Tests.Codecs;

namespace KvTier.Bench;

/// <summary>
/// The ans codec (format-spec/kvtier-format.md §9) on one realistic section: 256 tokens × 8 KV heads × 128 channels
/// (262 144 elements, N = 32 lanes) of smooth per-channel signals with outlier channels, noise and rare spikes, at the
/// default level in an early layer (B = 15). Times are per element (OperationsPerInvoke), so elements/s = 10^9 / Mean.
/// Baseline: copying the decoded f32 bytes, the floor any decoder that writes its output pays.
/// </summary>
public class AnsDecodeBenchmarks
{
    private const int Tokens = 256;
    private const int KvHeads = 8;
    private const int HeadDim = 128;
    private const int Elements = Tokens * KvHeads * HeadDim;

    private SectionContext _context;
    private float[] _values = [];
    private byte[] _payload = [];
    private float[] _decoded = [];
    private float[] _copy = [];

    /// <summary>Keys (a scale per channel) or values (a scale per token and head).</summary>
    [Params(SectionKind.Keys, SectionKind.Values)]
    public SectionKind Kind { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var layout = new KvLayout(32, KvHeads, HeadDim, KvElementType.Float32, new RopeParameters(10000, HeadDim, RopePairing.AdjacentPairs), keysStoredAfterRope: true);
        _context = new SectionContext(layout, Tokens, Layer: 0, Kind);
        _values = AnsTestData.Smooth(Tokens, KvHeads * HeadDim, seed: 11); // the codec tests' KV-like content
        _payload = AnsCodec.Instance.Encode(_context, _values, AnsCodec.DefaultLevel);
        _decoded = new float[Elements];
        _copy = new float[Elements];
        Console.WriteLine(
            $"// ans {Kind}: {_payload.Length} bytes, {8.0 * _payload.Length / Elements:F3} bits/element; B {_payload[4]}, " +
            $"prediction {_payload[3]}, N {BitConverter.ToUInt16(_payload, 6)}, G {BitConverter.ToUInt16(_payload, 8)}");
    }

    /// <summary>Baseline: a copy of the section's decoded f32 bytes.</summary>
    [Benchmark(Baseline = true, OperationsPerInvoke = Elements)]
    public void CopyDecodedBytes() => _decoded.AsSpan().CopyTo(_copy);

    /// <summary>The decoder as the codec runs it (AVX2 lanes with fused dequantization where available).</summary>
    [Benchmark(OperationsPerInvoke = Elements)]
    public void Decode() => AnsCodec.Instance.Decode(_context, _payload, _decoded);

    /// <summary>The scalar decode path (what runs without AVX2, e.g. on Arm64).</summary>
    [Benchmark(OperationsPerInvoke = Elements)]
    public void DecodeScalar() => AnsDecoder.Decode(_context, _payload, _decoded, AnsDecodePath.Scalar);

    /// <summary>The encoder: quantization and four candidate codings (prediction 0/1 × G = 1/kv_heads).</summary>
    [Benchmark(OperationsPerInvoke = Elements)]
    public byte[] Encode() => AnsCodec.Instance.Encode(_context, _values, AnsCodec.DefaultLevel);
}
