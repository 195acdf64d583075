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
        var pass = new BlendedPass(this, tokens, blended, selector);
        for (int layer = 0; layer < _config.Layers; layer++)
            pass.RunLayer(layer);
        return pass.Finish();
    }

    /// <summary>
    /// <see cref="PrefillBlended"/> as the blend streams in: layer l is computed as soon as <paramref name="request"/> has
    /// assembled it, while later layers still load — the way an engine overlaps loading with its own compute.
    /// </summary>
    /// <param name="tokens">The blended prompt, one token per position of the request's blend.</param>
    /// <param name="request">The running blend.</param>
    /// <param name="selectorFor">Gives the selector once layer 0 (and so every position's origin) is ready; null for no recomputation.</param>
    /// <param name="cancellationToken">Stops waiting for layers.</param>
    /// <returns>A copy of the last position's logits. <see cref="Cache"/> then holds the prompt's KV.</returns>
    /// <exception cref="ArgumentException">As for <see cref="PrefillBlended"/>.</exception>
    /// <exception cref="BlendException">The blend failed (see <see cref="BlendRequest.WaitForLayerAsync"/>).</exception>
    public async Task<float[]> PrefillBlendedAsync(int[] tokens, BlendRequest request, Func<BlendedKv, RecomputeSelector?> selectorFor, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(selectorFor);
        BlendedKv blended = await request.WaitForLayerAsync(0, cancellationToken).ConfigureAwait(false);
        var pass = new BlendedPass(this, tokens, blended, selectorFor(blended));
        for (int layer = 0; layer < _config.Layers; layer++)
        {
            if (layer > 0)
                await request.WaitForLayerAsync(layer, cancellationToken).ConfigureAwait(false);
            pass.RunLayer(layer);
        }

        return pass.Finish().ToArray();
    }

    /// <summary>One blended prefill, layer by layer: the positions still being computed and their residual streams.</summary>
    private sealed class BlendedPass
    {
        private readonly LlamaSession _s;
        private readonly BlendedKv _blended;
        private readonly RecomputeSelector? _selector;
        private readonly int _last;
        private readonly float[] _x;           // residual stream per position being computed; rows follow _active
        private readonly float[] _q;
        private readonly float[] _freshKeys;
        private readonly float[] _freshValues;
        private int[] _active;

        public BlendedPass(LlamaSession session, ReadOnlySpan<int> tokens, BlendedKv blended, RecomputeSelector? selector)
        {
            ArgumentNullException.ThrowIfNull(blended);
            LlamaConfig config = session._config;
            session.CheckTokens(tokens, 0);
            if (tokens.Length != blended.TokenCount)
                throw new ArgumentException($"{tokens.Length} tokens for a blend of {blended.TokenCount} positions.", nameof(tokens));
            if (blended.Layout.Layers != config.Layers || blended.Layout.KvDim != config.KvDim)
                throw new ArgumentException($"The blend has {blended.Layout.Layers} layers of width {blended.Layout.KvDim}; model {session.Model.ModelId} has {config.Layers} of {config.KvDim}.", nameof(blended));
            if (selector is not null && !ReferenceEquals(selector.Kv, blended))
                throw new ArgumentException("The selector was made for another blend.", nameof(selector));

            _s = session;
            _blended = blended;
            _selector = selector;
            _last = tokens.Length - 1;
            int[] active = selector is not null ? [.. selector.InitialTokens] : [.. blended.ComputeTokens];
            if (active.Length == 0 || active[^1] != _last)
                active = [.. active, _last];
            _active = active;

            int dim = config.Dim;
            int kvDim = config.KvDim;
            _x = new float[active.Length * dim];
            _q = new float[active.Length * dim];
            _freshKeys = new float[active.Length * kvDim];
            _freshValues = new float[active.Length * kvDim];
            for (int r = 0; r < active.Length; r++)
                session._w.TokenEmbedding.AsSpan(tokens[active[r]] * dim, dim).CopyTo(_x.AsSpan(r * dim, dim));
            session.Cache.SetLength(0);
        }

        public void RunLayer(int layer)
        {
            LlamaSession s = _s;
            int dim = s._config.Dim;
            int kvDim = s._config.KvDim;
            int[] active = _active;
            int count = active.Length;
            for (int r = 0; r < count; r++)
            {
                s.SetRopeAngles(active[r]);
                s.ProjectQkv(layer, _x.AsSpan(r * dim, dim), Span<float>.Empty, _freshKeys.AsSpan(r * kvDim, kvDim), _freshValues.AsSpan(r * kvDim, kvDim));
            }

            ReadOnlySpan<float> keys = _freshKeys.AsSpan(0, count * kvDim);
            ReadOnlySpan<float> values = _freshValues.AsSpan(0, count * kvDim);
            int[] kept = _selector is not null && _selector.IsCheckLayer(layer) ? _selector.Select(layer, active, keys, values) : active;
            if (kept.Length == 0 || kept[^1] != _last)
                kept = [.. kept, _last]; // the selector was told nothing about the last position; its logits are the result
            _blended.Merge(layer, active, keys, values);
            s.Cache.Load(layer, _blended.Keys(layer), _blended.Values(layer));

            // Compact the kept positions' rows to the front (both lists ascending, kept ⊆ active), then finish the layer.
            int row = 0;
            for (int r = 0; r < count && row < kept.Length; r++)
            {
                if (active[r] != kept[row])
                    continue;
                if (r != row)
                    _x.AsSpan(r * dim, dim).CopyTo(_x.AsSpan(row * dim, dim));
                row++;
            }

            if (row != kept.Length)
                throw new InvalidOperationException($"The selector returned positions that were not being computed at layer {layer}.");
            for (int r = 0; r < kept.Length; r++)
            {
                int position = kept[r];
                s.SetRopeAngles(position);
                Span<float> xr = _x.AsSpan(r * dim, dim);
                VectorMath.RmsNorm(s._xb, xr, s._w.RmsAttention.AsSpan(layer * dim, dim));
                Span<float> qr = _q.AsSpan(r * dim, dim);
                s.ProjectQuery(layer, qr);
                s.AttendAndFeedForward(layer, position, qr, xr);
            }

            _active = kept;
        }

        public ReadOnlySpan<float> Finish()
        {
            LlamaSession s = _s;
            int dim = s._config.Dim;
            s.Cache.SetLength(_last + 1);
            Span<float> final = _x.AsSpan((_active.Length - 1) * dim, dim);
            VectorMath.RmsNorm(final, final, s._w.RmsFinal);
            VectorMath.MatMul(s._logits, final, s._w.Classifier, dim, s._config.VocabSize);
            s.ForwardCount += _active.Length;
            return s._logits;
        }
    }
}
