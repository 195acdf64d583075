using KvTier.Blend;

namespace KvTier.Reference;

public sealed partial class LlamaSession
{
    /// <summary>
    /// The engine side of blending (CacheBlend's selective recomputation) over <paramref name="blended"/>: positions
    /// <c>0..n-1</c> start from the blended KV, and the forward pass runs layer by layer over only the positions that
    /// <paramref name="selector"/> keeps. Per layer: the fresh K and V of the current positions are computed; at a check
    /// layer the selector picks the positions to carry on with; the fresh rows are merged into the blend
    /// (<see cref="BlendedKv.Merge"/>) and the layer is loaded into <see cref="Cache"/>; then attention and the MLP run
    /// for the kept positions, attending over every position of the layer. With every position kept at every layer this
    /// is exactly <see cref="Prefill"/>: the same operations in the same order for each position.
    /// </summary>
    /// <param name="tokens">The blended prompt, one token per position of <paramref name="blended"/> (at most the context length).</param>
    /// <param name="blended">The blend, every layer assembled (<see cref="BlendRequest.Completion"/>).</param>
    /// <param name="selector">
    /// Which positions to recompute; null to reuse every stored position as it is (no recomputation: only the
    /// positions the blend marks <see cref="TokenOrigin.Computed"/> and the last one are computed).
    /// </param>
    /// <returns>Logits of the last position, valid until the next call on this session. <see cref="Cache"/> then holds the prompt's KV.</returns>
    /// <exception cref="ArgumentException">The tokens do not match the blend, the blend's layout is not this model's, or the selector is for another blend.</exception>
    public ReadOnlySpan<float> PrefillBlended(ReadOnlySpan<int> tokens, BlendedKv blended, RecomputeSelector? selector)
    {
        ArgumentNullException.ThrowIfNull(blended);
        CheckTokens(tokens, 0);
        if (tokens.Length != blended.TokenCount)
            throw new ArgumentException($"{tokens.Length} tokens for a blend of {blended.TokenCount} positions.", nameof(tokens));
        if (blended.Layout.Layers != _config.Layers || blended.Layout.KvDim != _config.KvDim)
            throw new ArgumentException($"The blend has {blended.Layout.Layers} layers of width {blended.Layout.KvDim}; model {Model.ModelId} has {_config.Layers} of {_config.KvDim}.", nameof(blended));
        if (selector is not null && !ReferenceEquals(selector.Kv, blended))
            throw new ArgumentException("The selector was made for another blend.", nameof(selector));

        int n = tokens.Length;
        int last = n - 1;
        int[] active = selector is not null ? [.. selector.InitialTokens] : [.. blended.ComputeTokens];
        if (active.Length == 0 || active[^1] != last)
            active = [.. active, last];

        int dim = _config.Dim;
        int kvDim = _config.KvDim;
        // Residual stream and query of each position being computed; rows follow `active`.
        var x = new float[active.Length * dim];
        var q = new float[active.Length * dim];
        var freshKeys = new float[active.Length * kvDim];
        var freshValues = new float[active.Length * kvDim];
        for (int r = 0; r < active.Length; r++)
            _w.TokenEmbedding.AsSpan(tokens[active[r]] * dim, dim).CopyTo(x.AsSpan(r * dim, dim));

        Cache.SetLength(0);
        for (int layer = 0; layer < _config.Layers; layer++)
        {
            int count = active.Length;
            for (int r = 0; r < count; r++)
            {
                SetRopeAngles(active[r]);
                ProjectQkv(layer, x.AsSpan(r * dim, dim), Span<float>.Empty, freshKeys.AsSpan(r * kvDim, kvDim), freshValues.AsSpan(r * kvDim, kvDim));
            }

            ReadOnlySpan<float> keys = freshKeys.AsSpan(0, count * kvDim);
            ReadOnlySpan<float> values = freshValues.AsSpan(0, count * kvDim);
            int[] kept = selector is not null && selector.IsCheckLayer(layer) ? selector.Select(layer, active, keys, values) : active;
            if (kept.Length == 0 || kept[^1] != last)
                kept = [.. kept, last]; // the selector was told nothing about the last position; its logits are the result
            blended.Merge(layer, active, keys, values);
            Cache.Load(layer, blended.Keys(layer), blended.Values(layer));

            // Compact the kept positions' rows to the front (both lists ascending, kept ⊆ active), then finish the layer.
            int row = 0;
            for (int r = 0; r < count && row < kept.Length; r++)
            {
                if (active[r] != kept[row])
                    continue;
                if (r != row)
                    x.AsSpan(r * dim, dim).CopyTo(x.AsSpan(row * dim, dim));
                row++;
            }

            if (row != kept.Length)
                throw new InvalidOperationException($"The selector returned positions that were not being computed at layer {layer}.");
            for (int r = 0; r < kept.Length; r++)
            {
                int position = kept[r];
                SetRopeAngles(position);
                Span<float> xr = x.AsSpan(r * dim, dim);
                VectorMath.RmsNorm(_xb, xr, _w.RmsAttention.AsSpan(layer * dim, dim));
                Span<float> qr = q.AsSpan(r * dim, dim);
                ProjectQuery(layer, qr);
                AttendAndFeedForward(layer, position, qr, xr);
            }

            active = kept;
        }

        Cache.SetLength(n);
        Span<float> final = x.AsSpan((active.Length - 1) * dim, dim);
        VectorMath.RmsNorm(final, final, _w.RmsFinal);
        VectorMath.MatMul(_logits, final, _w.Classifier, dim, _config.VocabSize);
        ForwardCount += active.Length;
        return _logits;
    }
}
