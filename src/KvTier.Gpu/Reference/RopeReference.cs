using KvTier.Gpu.Kernels;
using KvTier.Layout;

namespace KvTier.Gpu.Reference;

/// <summary>
/// The RoPE re-rotation angle table and the scalar reference for <see cref="RopeKernels.Rerotate"/>; the math is
/// defined on <see cref="RopeKernels"/>.
/// </summary>
public static class RopeReference
{
    /// <summary>
    /// For each token t and pair k: <c>φ = (target[t] − source[t]) · θ^(−2k/rotary_dims)</c> in binary64, then
    /// <c>cos[t·pairs + k] = (f32) cos φ</c> and <c>sin[t·pairs + k] = (f32) sin φ</c>.
    /// </summary>
    /// <exception cref="ArgumentException">The model has no RoPE, or the spans' lengths do not fit.</exception>
    public static void BuildAngles(RopeParameters rope, ReadOnlySpan<int> sourcePositions, ReadOnlySpan<int> targetPositions, Span<float> cos, Span<float> sin)
    {
        ArgumentNullException.ThrowIfNull(rope);
        if (rope.Pairing == RopePairing.None)
            throw new ArgumentException("The model has no RoPE; there is nothing to re-rotate.", nameof(rope));
        int pairs = rope.RotaryDims / 2;
        int tokens = sourcePositions.Length;
        if (targetPositions.Length != tokens || cos.Length != tokens * pairs || sin.Length != tokens * pairs)
            throw new ArgumentException($"Expected {tokens} target positions and {tokens * pairs} cos and sin entries.", nameof(cos));
        for (int t = 0; t < tokens; t++)
        {
            double delta = (double)targetPositions[t] - sourcePositions[t];
            for (int k = 0; k < pairs; k++)
            {
                double phi = delta * Math.Pow(rope.Theta, -2.0 * k / rope.RotaryDims);
                cos[t * pairs + k] = (float)Math.Cos(phi);
                sin[t * pairs + k] = (float)Math.Sin(phi);
            }
        }
    }

    /// <summary>Re-rotates K (<c>tokens × kv_heads × head_dim</c>, row-major) in place with the table from <see cref="BuildAngles"/>.</summary>
    public static void Rerotate(Span<float> keys, ReadOnlySpan<float> cos, ReadOnlySpan<float> sin, RopeShape shape)
    {
        int pairs = shape.Pairs;
        for (int t = 0; t < shape.Tokens; t++)
        {
            for (int h = 0; h < shape.KvHeads; h++)
            {
                int head = (t * shape.KvHeads + h) * shape.HeadDim;
                for (int k = 0; k < pairs; k++)
                {
                    int a = head + (shape.SplitHalves ? k : 2 * k);
                    int b = a + (shape.SplitHalves ? pairs : 1);
                    float c = cos[t * pairs + k];
                    float s = sin[t * pairs + k];
                    float xa = keys[a];
                    float xb = keys[b];
                    float ac = xa * c;
                    float bs = xb * s;
                    float asn = xa * s;
                    float bc = xb * c;
                    keys[a] = ac - bs;
                    keys[b] = asn + bc;
                }
            }
        }
    }
}
