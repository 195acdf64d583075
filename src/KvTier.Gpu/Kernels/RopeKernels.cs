using ILGPU;

namespace KvTier.Gpu.Kernels;

/// <summary>
/// RoPE re-rotation of stored K to new positions (blending: a chunk computed at positions p reused at positions p′).
/// <para>
/// Math. For a head's pair k (0 ≤ k &lt; rotary_dims/2) with channels (a, b) — adjacent pairs: a = 2k, b = 2k + 1;
/// split halves: a = k, b = k + rotary_dims/2 — RoPE rotates (x_a, x_b) by the angle p·θ^(−2k/rotary_dims). Rotations
/// of one plane compose, so moving K from position p to p′ is one rotation by Δ = p′ − p:
/// <code>
///   φ      = Δ · θ^(−2k/rotary_dims)               (binary64, on the host: <see cref="Reference.RopeReference.BuildAngles"/>)
///   cos, sin = (f32) cos φ, (f32) sin φ             (binary64 trig, rounded once to binary32)
///   x_a'   = x_a·cos − x_b·sin                      (binary32: two products, then the difference)
///   x_b'   = x_a·sin + x_b·cos                      (binary32: two products, then the sum)
/// </code>
/// Channels at or past rotary_dims are not touched. The angle table is computed once on the host, per (token, pair),
/// and shared by this kernel and its scalar reference: device trig (CUDA's <c>__cosf</c>/<c>cosf</c>, OpenCL's
/// <c>cos</c>) is neither bit-identical to .NET's <see cref="Math.Cos(double)"/> nor across backends, while the six
/// binary32 operations above are correctly rounded everywhere, so the kernel and <see cref="Reference.RopeReference"/>
/// agree bit for bit on ILGPU's CPU accelerator. (A backend that contracted a product and a sum into one fused
/// multiply-add would differ in the last bit; the CPU accelerator runs the IL as written.)
/// </para>
/// </summary>
public static class RopeKernels
{
    /// <summary>
    /// Re-rotates K in place: one thread per (token, head, pair), <c>index = (t·kv_heads + h)·pairs + k</c>;
    /// <paramref name="cos"/> and <paramref name="sin"/> hold <c>tokens · pairs</c> entries, index <c>t·pairs + k</c>.
    /// </summary>
    public static void Rerotate(Index1D index, ArrayView<float> keys, ArrayView<float> cos, ArrayView<float> sin, RopeShape shape)
    {
        int pairs = shape.RotaryDims / 2;
        if (pairs == 0 || index >= (long)shape.Tokens * shape.KvHeads * pairs)
            return;
        int k = index % pairs;
        int row = index / pairs; // t·kv_heads + h
        int t = row / shape.KvHeads;
        long baseChannel = (long)row * shape.HeadDim;
        long a = baseChannel + (shape.SplitHalves ? k : 2 * k);
        long b = a + (shape.SplitHalves ? pairs : 1);
        long angle = (long)t * pairs + k;
        if (b >= keys.Length || angle >= cos.Length || angle >= sin.Length)
            return;
        float c = cos[angle];
        float s = sin[angle];
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
