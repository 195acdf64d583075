namespace KvTier.Format.Codecs.Ans;

/// <summary>Which entropy-decoding loop <see cref="AnsDecoder"/> runs; every path gives the same values bit for bit.</summary>
internal enum AnsDecodePath
{
    /// <summary>The fastest path the payload and the CPU allow.</summary>
    Auto = 0,

    /// <summary>Scalar loop over a per-table slot lookup, lanes interleaved in element order.</summary>
    Scalar = 1,

    /// <summary>
    /// AVX2, eight lanes per step with gathers: for N = 8, 16 or 32 with states in registers and dequantization fused in;
    /// for other multiples of 8 in blocks. Needs kv_dim a multiple of 8 (and, for the fused loop with per-token-and-head
    /// scales, head_dim too); otherwise <see cref="Scalar"/> runs.
    /// </summary>
    Vector = 2,

    /// <summary>Checked scalar loop with a binary search over each table's cumulative frequencies and no slot lookup;
    /// what <see cref="Auto"/> uses when G lookups of 4096 entries would cost more than the section.</summary>
    Search = 3,
}
