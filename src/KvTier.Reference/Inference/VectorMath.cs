using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace KvTier.Reference;

/// <summary>
/// The float kernels of the forward pass. <see cref="Dot"/> sums in one fixed order on every machine (eight lanes,
/// then a fixed reduction, then a sequential tail), so results are bit-identical whether it runs on AVX, on
/// 128-bit SIMD or on the scalar reference <see cref="DotReference"/>; the other kernels follow llama2.c's loops.
/// </summary>
/// <remarks>Stateless; safe from any thread.</remarks>
internal static class VectorMath
{
    /// <summary>Lanes per block of the fixed summation order.</summary>
    private const int Lanes = 8;

    /// <summary>Σ a[i]·b[i]. Spans must have the same length.</summary>
    public static float Dot(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        if (a.Length != b.Length)
            ThrowLengthMismatch();
        int n = a.Length;
        int blocks = n / Lanes * Lanes;
        float sum = 0f;
        if (blocks > 0)
        {
            // SAFETY: the refs come from the spans, which the caller keeps alive; every load reads
            // elements [i, i + 8) with i + 8 <= blocks <= n, inside both spans.
            ref float ra = ref MemoryMarshal.GetReference(a);
            ref float rb = ref MemoryMarshal.GetReference(b);
            Vector128<float> half;
            if (Vector256.IsHardwareAccelerated)
            {
                Vector256<float> acc = Vector256<float>.Zero;
                for (int i = 0; i < blocks; i += Lanes)
                    acc += Vector256.LoadUnsafe(ref ra, (nuint)i) * Vector256.LoadUnsafe(ref rb, (nuint)i);
                half = acc.GetLower() + acc.GetUpper();
            }
            else if (Vector128.IsHardwareAccelerated)
            {
                // The same lane arithmetic as the 256-bit path, as two 128-bit halves.
                Vector128<float> lo = Vector128<float>.Zero;
                Vector128<float> hi = Vector128<float>.Zero;
                for (int i = 0; i < blocks; i += Lanes)
                {
                    lo += Vector128.LoadUnsafe(ref ra, (nuint)i) * Vector128.LoadUnsafe(ref rb, (nuint)i);
                    hi += Vector128.LoadUnsafe(ref ra, (nuint)(i + 4)) * Vector128.LoadUnsafe(ref rb, (nuint)(i + 4));
                }

                half = lo + hi;
            }
            else
            {
                return DotReference(a, b);
            }

            sum = (half.GetElement(0) + half.GetElement(1)) + (half.GetElement(2) + half.GetElement(3));
        }

        for (int i = blocks; i < n; i++)
            sum += a[i] * b[i];
        return sum;
    }

    /// <summary>The scalar reference for <see cref="Dot"/>: the same additions in the same order, one lane at a time.</summary>
    public static float DotReference(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        if (a.Length != b.Length)
            ThrowLengthMismatch();
        int n = a.Length;
        int blocks = n / Lanes * Lanes;
        float sum = 0f;
        if (blocks > 0)
        {
            Span<float> lane = stackalloc float[Lanes];
            lane.Clear();
            for (int i = 0; i < blocks; i += Lanes)
            {
                for (int k = 0; k < Lanes; k++)
                    lane[k] += a[i + k] * b[i + k];
            }

            float h0 = lane[0] + lane[4], h1 = lane[1] + lane[5], h2 = lane[2] + lane[6], h3 = lane[3] + lane[7];
            sum = (h0 + h1) + (h2 + h3);
        }

        for (int i = blocks; i < n; i++)
            sum += a[i] * b[i];
        return sum;
    }

    /// <summary>W (d×n, row-major) · x (n) → xout (d), as llama2.c's <c>matmul</c>.</summary>
    public static void MatMul(Span<float> xout, ReadOnlySpan<float> x, ReadOnlySpan<float> w, int n, int d)
    {
        for (int i = 0; i < d; i++)
            xout[i] = Dot(w.Slice(i * n, n), x);
    }

    /// <summary>llama2.c's <c>rmsnorm</c>: sum of squares in float, eps 1e-5; <paramref name="output"/> may be <paramref name="x"/>.</summary>
    public static void RmsNorm(Span<float> output, ReadOnlySpan<float> x, ReadOnlySpan<float> weight)
    {
        float ss = 0f;
        for (int j = 0; j < x.Length; j++)
            ss += x[j] * x[j];
        ss /= x.Length;
        ss += 1e-5f;
        ss = 1.0f / MathF.Sqrt(ss);
        for (int j = 0; j < x.Length; j++)
            output[j] = weight[j] * (ss * x[j]);
    }

    /// <summary>llama2.c's <c>softmax</c>, in place, with the maximum subtracted.</summary>
    public static void Softmax(Span<float> x)
    {
        float max = x[0];
        for (int i = 1; i < x.Length; i++)
        {
            if (x[i] > max)
                max = x[i];
        }

        float sum = 0f;
        for (int i = 0; i < x.Length; i++)
        {
            x[i] = MathF.Exp(x[i] - max);
            sum += x[i];
        }

        for (int i = 0; i < x.Length; i++)
            x[i] /= sum;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void ThrowLengthMismatch() => throw new ArgumentException("Dot product operands differ in length.");
}
