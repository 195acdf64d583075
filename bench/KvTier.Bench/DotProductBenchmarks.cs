using BenchmarkDotNet.Attributes;
using KvTier.Reference;

namespace KvTier.Bench;

/// <summary>
/// The reference model's SIMD dot product against its scalar reference (the baseline): the inner loop of every
/// matrix-vector product and attention score. Lengths: the model's dim (64) and hidden dim (172), and a long row.
/// </summary>
public class DotProductBenchmarks
{
    private float[] _a = [];
    private float[] _b = [];

    /// <summary>Vector length in floats.</summary>
    [Params(64, 172, 4096)]
    public int Length { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(7);
        _a = Enumerable.Range(0, Length).Select(_ => random.NextSingle() - 0.5f).ToArray();
        _b = Enumerable.Range(0, Length).Select(_ => random.NextSingle() - 0.5f).ToArray();
    }

    /// <summary>Baseline: the scalar reference that the tests compare the SIMD path with.</summary>
    [Benchmark(Baseline = true)]
    public float Scalar() => VectorMath.DotReference(_a, _b);

    /// <summary>The SIMD path the forward pass uses.</summary>
    [Benchmark]
    public float Simd() => VectorMath.Dot(_a, _b);
}
