namespace KvTier.Gpu.Kernels;

/// <summary>The dimensions of a RoPE re-rotation launch (<see cref="RopeKernels.Rerotate"/>).</summary>
/// <param name="Tokens">Rows of K.</param>
/// <param name="KvHeads">KV heads per row.</param>
/// <param name="HeadDim">Channels per head.</param>
/// <param name="RotaryDims">Rotated channels at the start of each head (even, ≤ head_dim); the rest pass through.</param>
/// <param name="Pairing">
/// <see cref="KvTier.Layout.RopePairing.SplitHalves"/> (2): channel k pairs with k + rotary/2 (Hugging Face); otherwise
/// 2k pairs with 2k + 1 (llama.cpp, llama2.c). An <see cref="int"/>, not the enum or a bool: kernel parameters must be blittable.
/// </param>
public readonly record struct RopeShape(int Tokens, int KvHeads, int HeadDim, int RotaryDims, int Pairing)
{
    /// <summary>True when pairs are split halves rather than adjacent channels.</summary>
    public bool SplitHalves => Pairing == (int)KvTier.Layout.RopePairing.SplitHalves;

    /// <summary>Rotated pairs per head: rotary_dims / 2.</summary>
    public int Pairs => RotaryDims / 2;

    /// <summary>Threads of one launch: one per (token, head, pair).</summary>
    public long Threads => (long)Tokens * KvHeads * Pairs;
}
