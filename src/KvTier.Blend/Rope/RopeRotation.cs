using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using KvTier.Layout;

namespace KvTier.Blend;

/// <summary>
/// RoPE re-rotation of stored K on the CPU (SIMD): moves K from the positions it was computed at to new positions, bit
/// for bit the same as <see cref="KvTier.Gpu.Reference.RopeReference.Rerotate"/> and the ILGPU kernel
/// <see cref="KvTier.Gpu.Kernels.RopeKernels.Rerotate"/>.
/// </summary>
/// <remarks>
/// <para>
/// The math is stated on <see cref="KvTier.Gpu.Kernels.RopeKernels"/>: for pair k of a head, with channels (a, b) —
/// adjacent pairs (2k, 2k + 1) or split halves (k, k + rotary/2) — moving by Δ = target − source is one rotation by
/// φ = Δ·θ^(−2k/rotary), with cos φ and sin φ taken in binary64 and rounded once to binary32, then
/// <c>x_a' = x_a·cos − x_b·sin</c> and <c>x_b' = x_a·sin + x_b·cos</c> as six binary32 operations (four products, a
/// difference and a sum; never a fused multiply-add).
/// </para>
/// <para>
/// A blended chunk moves as a block: every token of it shifts by the same Δ, so one table of rotary/2 entries
/// (<see cref="BuildAngles"/>) serves every token, head and layer of the chunk, instead of the per-token table the
/// kernel takes. Its entries are exactly the reference's for that Δ (the same binary64 expression), which is what keeps
/// the results bit-identical.
/// </para>
/// <para>
/// The vector paths perform, per lane, the reference's operations in the reference's order: Vector256/Vector128
/// <c>Multiply</c>, <c>Subtract</c> and <c>Add</c> are correctly rounded binary32 operations, and the JIT never
/// contracts separate operations into a fused multiply-add. Adjacent pairs use v = [x0, y0, x1, y1, …], the swapped
/// vector [y0, x0, y1, x1, …] and tables expanded to [c0, c0, c1, c1, …] and [s0, s0, s1, s1, …]: the products are
/// p = [x·c, y·c] and q = [y·s, x·s], and the result takes p − q in even lanes (x·c − y·s) and q + p in odd lanes
/// (x·s + y·c), the operands in the reference's order so that even NaN payloads match.
/// </para>
/// <para>Stateless; every method may run concurrently with any other on disjoint destinations.</para>
/// </remarks>
public static class RopeRotation
{
    /// <summary>Expanded adjacent-pair tables up to this many entries each live on the stack; longer ones are rented.</summary>
    private const int StackTableLimit = 512;

    /// <summary>
    /// Fills the angle table for a block of tokens that all move by <paramref name="delta"/> (target − source):
    /// <c>φ_k = Δ·θ^(−2k/rotary_dims)</c> in binary64, <c>cos[k] = (f32) cos φ_k</c>, <c>sin[k] = (f32) sin φ_k</c>,
    /// for k in [0, rotary_dims/2) — the values <see cref="KvTier.Gpu.Reference.RopeReference.BuildAngles"/> produces
    /// for a token moved by the same Δ.
    /// </summary>
    /// <param name="rope">The model's RoPE parameters.</param>
    /// <param name="delta">Target position minus source position, shared by every token of the block.</param>
    /// <param name="cos">Receives rotary_dims/2 cosines.</param>
    /// <param name="sin">Receives rotary_dims/2 sines.</param>
    /// <exception cref="ArgumentNullException"><paramref name="rope"/> is null.</exception>
    /// <exception cref="ArgumentException">The model has no RoPE, or a span is not rotary_dims/2 long.</exception>
    public static void BuildAngles(RopeParameters rope, long delta, Span<float> cos, Span<float> sin)
    {
        ArgumentNullException.ThrowIfNull(rope);
        if (rope.Pairing == RopePairing.None)
            throw new ArgumentException("The model has no RoPE (pairing None); there is no angle table to build.", nameof(rope));
        int pairs = rope.RotaryDims / 2;
        if (cos.Length != pairs || sin.Length != pairs)
            throw new ArgumentException($"The angle table has {pairs} entries (rotary dims {rope.RotaryDims} / 2); got {cos.Length} cosines and {sin.Length} sines.", nameof(cos));

        double d = delta;
        for (int k = 0; k < pairs; k++)
        {
            // The reference's expression, operation for operation: the rounding of φ decides the last bit of cos and sin.
            double phi = d * Math.Pow(rope.Theta, -2.0 * k / rope.RotaryDims);
            cos[k] = (float)Math.Cos(phi);
            sin[k] = (float)Math.Sin(phi);
        }
    }

    /// <summary>
    /// Re-rotates <paramref name="keys"/> in place: tokens × <see cref="KvLayout.KvDim"/> binary32, row-major, each row
    /// <see cref="KvLayout.KvHeads"/> heads of <see cref="KvLayout.HeadDim"/> channels; every token uses the same table
    /// (<see cref="BuildAngles"/>). Channels at or past the rotary dimensions of each head are not touched.
    /// </summary>
    /// <param name="keys">K of one layer for a block of tokens.</param>
    /// <param name="layout">The model's KV layout; it must have RoPE.</param>
    /// <param name="cos">The block's cosines, rotary_dims/2 entries.</param>
    /// <param name="sin">The block's sines, rotary_dims/2 entries.</param>
    /// <exception cref="ArgumentNullException"><paramref name="layout"/> is null.</exception>
    /// <exception cref="ArgumentException">
    /// The layout has no RoPE, <paramref name="keys"/> is not whole rows, or a table is not rotary_dims/2 long.
    /// </exception>
    public static void Rerotate(Span<float> keys, KvLayout layout, ReadOnlySpan<float> cos, ReadOnlySpan<float> sin)
    {
        Validate(keys.Length, layout, cos, sin, nameof(keys));
        Apply(keys, keys, layout, cos, sin, copyPassThrough: false);
    }

    /// <summary>
    /// Reads rows of K from <paramref name="source"/> and writes them re-rotated to <paramref name="destination"/>
    /// (the fused gather and rotate of blending): the same result as copying and then <see cref="Rerotate"/>, channels
    /// past the rotary dimensions copied unchanged.
    /// </summary>
    /// <param name="source">K of one layer for a block of tokens; not modified.</param>
    /// <param name="destination">Receives the rotated rows; as long as <paramref name="source"/>.</param>
    /// <param name="layout">The model's KV layout; it must have RoPE.</param>
    /// <param name="cos">The block's cosines, rotary_dims/2 entries.</param>
    /// <param name="sin">The block's sines, rotary_dims/2 entries.</param>
    /// <remarks>The spans may not overlap (rotate in place with <see cref="Rerotate"/>).</remarks>
    /// <exception cref="ArgumentNullException"><paramref name="layout"/> is null.</exception>
    /// <exception cref="ArgumentException">
    /// The layout has no RoPE, the spans differ in length, overlap, or are not whole rows, or a table is not
    /// rotary_dims/2 long.
    /// </exception>
    public static void RerotateInto(ReadOnlySpan<float> source, Span<float> destination, KvLayout layout, ReadOnlySpan<float> cos, ReadOnlySpan<float> sin)
    {
        Validate(source.Length, layout, cos, sin, nameof(source));
        if (destination.Length != source.Length)
            throw new ArgumentException($"The destination holds {destination.Length} values; the source holds {source.Length}.", nameof(destination));
        if (source.Overlaps(destination))
            throw new ArgumentException("The source and destination overlap; re-rotate in place with Rerotate instead.", nameof(destination));
        Apply(source, destination, layout, cos, sin, copyPassThrough: true);
    }

    private static void Validate(int length, KvLayout layout, ReadOnlySpan<float> cos, ReadOnlySpan<float> sin, string keysName)
    {
        ArgumentNullException.ThrowIfNull(layout);
        if (layout.Rope.Pairing == RopePairing.None)
            throw new ArgumentException("The layout has no RoPE (pairing None); its keys carry no position to re-rotate.", nameof(layout));
        int pairs = layout.Rope.RotaryDims / 2;
        if (cos.Length != pairs || sin.Length != pairs)
            throw new ArgumentException($"The angle table has {pairs} entries (rotary dims {layout.Rope.RotaryDims} / 2); got {cos.Length} cosines and {sin.Length} sines.", nameof(cos));
        if (length % layout.KvDim != 0)
            throw new ArgumentException($"K holds {length} values, not a whole number of rows of width {layout.KvDim}.", keysName);
    }

    /// <summary>Rotates every head of every row from <paramref name="source"/> into <paramref name="destination"/>, which is either the same span or a disjoint one of the same length.</summary>
    private static void Apply(ReadOnlySpan<float> source, Span<float> destination, KvLayout layout, ReadOnlySpan<float> cos, ReadOnlySpan<float> sin, bool copyPassThrough)
    {
        if (source.IsEmpty)
            return;
        if (layout.Rope.Pairing == RopePairing.SplitHalves)
        {
            RotateSplitHalves(source, destination, layout, cos, sin, copyPassThrough);
            return;
        }

        int rotary = layout.Rope.RotaryDims;
        float[]? rented = null;
        Span<float> expanded = rotary <= StackTableLimit
            ? stackalloc float[2 * StackTableLimit]
            : (rented = ArrayPool<float>.Shared.Rent(2 * rotary));
        try
        {
            Span<float> cc = expanded[..rotary];
            Span<float> ss = expanded.Slice(rotary, rotary);
            for (int k = 0; k < cos.Length; k++)
            {
                cc[2 * k] = cc[2 * k + 1] = cos[k];
                ss[2 * k] = ss[2 * k + 1] = sin[k];
            }

            RotateAdjacentPairs(source, destination, layout, cc, ss, copyPassThrough);
        }
        finally
        {
            if (rented is not null)
                ArrayPool<float>.Shared.Return(rented);
        }
    }

    /// <summary>Adjacent pairs (2k, 2k + 1) with the expanded tables <paramref name="cc"/> = [c0, c0, c1, c1, …] and <paramref name="ss"/> = [s0, s0, s1, s1, …].</summary>
    private static void RotateAdjacentPairs(ReadOnlySpan<float> source, Span<float> destination, KvLayout layout, ReadOnlySpan<float> cc, ReadOnlySpan<float> ss, bool copyPassThrough)
    {
        int headDim = layout.HeadDim;
        int rotary = layout.Rope.RotaryDims;
        int heads = source.Length / headDim;
        // SAFETY: source and destination are the same length (checked by the callers), a whole number of heads long;
        // every offset below is head·headDim + i with i < rotary ≤ headDim, so each load and store stays inside them.
        // cc and ss are rotary long and indexed below rotary. The refs live only for this call, over spans the caller
        // keeps alive; no pinning is needed because nothing is handed to native code.
        ref float src = ref MemoryMarshal.GetReference(source);
        ref float dst = ref MemoryMarshal.GetReference(destination);
        ref float c = ref MemoryMarshal.GetReference(cc);
        ref float s = ref MemoryMarshal.GetReference(ss);
        int vector256End = Vector256.IsHardwareAccelerated ? rotary - rotary % Vector256<float>.Count : 0;
        int vector128End = Vector128.IsHardwareAccelerated ? rotary - rotary % Vector128<float>.Count : 0;
        Vector256<float> even256 = Vector256.Create(-1, 0, -1, 0, -1, 0, -1, 0).AsSingle();
        Vector128<float> even128 = Vector128.Create(-1, 0, -1, 0).AsSingle();

        for (int head = 0; head < heads; head++)
        {
            nuint baseOffset = (nuint)head * (nuint)headDim;
            ref float x = ref Unsafe.Add(ref src, baseOffset);
            ref float y = ref Unsafe.Add(ref dst, baseOffset);
            int i = 0;
            for (; i < vector256End; i += Vector256<float>.Count)
            {
                Vector256<float> v = Vector256.LoadUnsafe(ref x, (nuint)i);
                Vector256<float> swapped = Vector256.Shuffle(v, Vector256.Create(1, 0, 3, 2, 5, 4, 7, 6));
                Vector256<float> p = v * Vector256.LoadUnsafe(ref c, (nuint)i);        // [xa·c, xb·c]
                Vector256<float> q = swapped * Vector256.LoadUnsafe(ref s, (nuint)i);  // [xb·s, xa·s]
                Vector256.ConditionalSelect(even256, p - q, q + p).StoreUnsafe(ref y, (nuint)i);
            }

            for (; i < vector128End; i += Vector128<float>.Count)
            {
                Vector128<float> v = Vector128.LoadUnsafe(ref x, (nuint)i);
                Vector128<float> swapped = Vector128.Shuffle(v, Vector128.Create(1, 0, 3, 2));
                Vector128<float> p = v * Vector128.LoadUnsafe(ref c, (nuint)i);
                Vector128<float> q = swapped * Vector128.LoadUnsafe(ref s, (nuint)i);
                Vector128.ConditionalSelect(even128, p - q, q + p).StoreUnsafe(ref y, (nuint)i);
            }

            for (; i < rotary; i += 2)
            {
                float cosine = Unsafe.Add(ref c, i);
                float sine = Unsafe.Add(ref s, i);
                float xa = Unsafe.Add(ref x, i);
                float xb = Unsafe.Add(ref x, i + 1);
                float ac = xa * cosine;
                float bs = xb * sine;
                float asn = xa * sine;
                float bc = xb * cosine;
                Unsafe.Add(ref y, i) = ac - bs;
                Unsafe.Add(ref y, i + 1) = asn + bc;
            }

            if (copyPassThrough && rotary < headDim)
                source.Slice((int)baseOffset + rotary, headDim - rotary).CopyTo(destination.Slice((int)baseOffset + rotary));
        }
    }

    /// <summary>Split halves (k, k + rotary/2): contiguous runs of a-channels and b-channels, the table used as is.</summary>
    private static void RotateSplitHalves(ReadOnlySpan<float> source, Span<float> destination, KvLayout layout, ReadOnlySpan<float> cos, ReadOnlySpan<float> sin, bool copyPassThrough)
    {
        int headDim = layout.HeadDim;
        int rotary = layout.Rope.RotaryDims;
        int pairs = rotary / 2;
        int heads = source.Length / headDim;
        // SAFETY: as in RotateAdjacentPairs — the spans are the same length, whole heads; offsets are head·headDim + k
        // and head·headDim + pairs + k with k < pairs, so below head·headDim + rotary ≤ (head + 1)·headDim; cos and sin
        // are pairs long. A vector of a-channels ends at or before pairs, so in place it never overlaps the b-channels
        // it is computed with: both are loaded before either is stored.
        ref float src = ref MemoryMarshal.GetReference(source);
        ref float dst = ref MemoryMarshal.GetReference(destination);
        ref float c = ref MemoryMarshal.GetReference(cos);
        ref float s = ref MemoryMarshal.GetReference(sin);
        int vector256End = Vector256.IsHardwareAccelerated ? pairs - pairs % Vector256<float>.Count : 0;
        int vector128End = Vector128.IsHardwareAccelerated ? pairs - pairs % Vector128<float>.Count : 0;

        for (int head = 0; head < heads; head++)
        {
            nuint baseOffset = (nuint)head * (nuint)headDim;
            ref float xa0 = ref Unsafe.Add(ref src, baseOffset);
            ref float xb0 = ref Unsafe.Add(ref xa0, pairs);
            ref float ya0 = ref Unsafe.Add(ref dst, baseOffset);
            ref float yb0 = ref Unsafe.Add(ref ya0, pairs);
            int k = 0;
            for (; k < vector256End; k += Vector256<float>.Count)
            {
                Vector256<float> xa = Vector256.LoadUnsafe(ref xa0, (nuint)k);
                Vector256<float> xb = Vector256.LoadUnsafe(ref xb0, (nuint)k);
                Vector256<float> cosine = Vector256.LoadUnsafe(ref c, (nuint)k);
                Vector256<float> sine = Vector256.LoadUnsafe(ref s, (nuint)k);
                Vector256<float> ac = xa * cosine;
                Vector256<float> bs = xb * sine;
                Vector256<float> asn = xa * sine;
                Vector256<float> bc = xb * cosine;
                (ac - bs).StoreUnsafe(ref ya0, (nuint)k);
                (asn + bc).StoreUnsafe(ref yb0, (nuint)k);
            }

            for (; k < vector128End; k += Vector128<float>.Count)
            {
                Vector128<float> xa = Vector128.LoadUnsafe(ref xa0, (nuint)k);
                Vector128<float> xb = Vector128.LoadUnsafe(ref xb0, (nuint)k);
                Vector128<float> cosine = Vector128.LoadUnsafe(ref c, (nuint)k);
                Vector128<float> sine = Vector128.LoadUnsafe(ref s, (nuint)k);
                Vector128<float> ac = xa * cosine;
                Vector128<float> bs = xb * sine;
                Vector128<float> asn = xa * sine;
                Vector128<float> bc = xb * cosine;
                (ac - bs).StoreUnsafe(ref ya0, (nuint)k);
                (asn + bc).StoreUnsafe(ref yb0, (nuint)k);
            }

            for (; k < pairs; k++)
            {
                float cosine = Unsafe.Add(ref c, k);
                float sine = Unsafe.Add(ref s, k);
                float xa = Unsafe.Add(ref xa0, k);
                float xb = Unsafe.Add(ref xb0, k);
                float ac = xa * cosine;
                float bs = xb * sine;
                float asn = xa * sine;
                float bc = xb * cosine;
                Unsafe.Add(ref ya0, k) = ac - bs;
                Unsafe.Add(ref yb0, k) = asn + bc;
            }

            if (copyPassThrough && rotary < headDim)
                source.Slice((int)baseOffset + rotary, headDim - rotary).CopyTo(destination.Slice((int)baseOffset + rotary));
        }
    }
}
