using BenchmarkDotNet.Attributes;
using KvTier.Blend;
using KvTier.Gpu.Kernels;
using KvTier.Gpu.Reference;
using KvTier.Layout;

namespace KvTier.Bench;

/// <summary>
/// Re-rotating a moved chunk's keys (blending) on the CPU: the SIMD path the blender uses, in place and fused with the
/// copy to the target rows, against the scalar reference that the tests and the ILGPU kernel agree with bit for bit
/// (the baseline). A plain copy of the same rows is the floor a fused copy-and-rotate cannot beat. 1,024 tokens of an
/// 8B-class layout (8 KV heads × 128, full rotary), both pairings.
/// </summary>
public class RopeRotationBenchmarks
{
    private const int Tokens = 1024;
    private KvLayout _layout = null!;
    private float[] _keys = [];
    private float[] _target = [];
    private float[] _cos = [];
    private float[] _sin = [];
    private float[] _tokenCos = [];
    private float[] _tokenSin = [];
    private RopeShape _shape;

    /// <summary>Which channels rotate together.</summary>
    [Params(RopePairing.AdjacentPairs, RopePairing.SplitHalves)]
    public RopePairing Pairing { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _layout = new KvLayout(1, 8, 128, KvElementType.Float16, new RopeParameters(500000, 128, Pairing), keysStoredAfterRope: true);
        var random = new Random(11);
        _keys = Enumerable.Range(0, Tokens * _layout.KvDim).Select(_ => random.NextSingle() * 8 - 4).ToArray();
        _target = new float[_keys.Length];
        int pairs = _layout.Rope.RotaryDims / 2;
        _cos = new float[pairs];
        _sin = new float[pairs];
        RopeRotation.BuildAngles(_layout.Rope, 1234, _cos, _sin);
        _shape = new RopeShape(Tokens, _layout.KvHeads, _layout.HeadDim, _layout.Rope.RotaryDims, (int)Pairing);
        // The reference takes a table per token: the same delta for every token, as a moved chunk has.
        _tokenCos = new float[Tokens * pairs];
        _tokenSin = new float[Tokens * pairs];
        for (int t = 0; t < Tokens; t++)
        {
            _cos.CopyTo(_tokenCos, t * pairs);
            _sin.CopyTo(_tokenSin, t * pairs);
        }
    }

    /// <summary>Baseline: the scalar reference, in place.</summary>
    [Benchmark(Baseline = true)]
    public void ScalarReference() => RopeReference.Rerotate(_keys, _tokenCos, _tokenSin, _shape);

    /// <summary>The SIMD path, in place.</summary>
    [Benchmark]
    public void Simd() => RopeRotation.Rerotate(_keys, _layout, _cos, _sin);

    /// <summary>The SIMD path fused with the copy to the target rows (what the blender runs per chunk and layer).</summary>
    [Benchmark]
    public void SimdInto() => RopeRotation.RerotateInto(_keys, _target, _layout, _cos, _sin);

    /// <summary>A plain copy of the same rows: the floor for <see cref="SimdInto"/>.</summary>
    [Benchmark]
    public void Copy() => _keys.AsSpan().CopyTo(_target);
}
