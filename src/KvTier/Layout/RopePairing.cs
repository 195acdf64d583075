namespace KvTier.Layout;

/// <summary>
/// Which pairs of channels rotary position embedding (RoPE) rotates together within a head.
/// The numeric values are part of the model fingerprint (format-spec/key-derivation.md §2) and never change.
/// </summary>
public enum RopePairing : byte
{
    /// <summary>The model applies no rotary embedding to keys (for example ALiBi or learned positions).</summary>
    None = 0,

    /// <summary>Channels (2i, 2i+1) form a pair, as in llama2.c and llama.cpp's "normal" RoPE.</summary>
    AdjacentPairs = 1,

    /// <summary>Channels (i, i + rotaryDims/2) form a pair, as in Hugging Face's <c>rotate_half</c> ("NeoX" style).</summary>
    SplitHalves = 2,
}
