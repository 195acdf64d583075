namespace KvTier.Reference;

/// <summary>
/// One sequence running through a <see cref="LlamaModel"/>: the forward pass of llama2.c's <c>run.c</c>, token by
/// token, with the sequence's <see cref="KvCache"/>. Prefill can start from a KV cache computed elsewhere, which is
/// what reusing a cached prefix means to an inference engine.
/// </summary>
/// <remarks>
/// Not thread-safe: one thread at a time per session (the model itself may be shared by many sessions).
/// All working buffers are allocated once, here; a forward pass allocates nothing.
/// </remarks>
public sealed partial class LlamaSession
{
    private readonly LlamaConfig _config;
    private readonly LlamaWeights _w;
    private readonly float[] _x;      // residual stream, dim
    private readonly float[] _xb;     // normed input / attention output, dim
    private readonly float[] _xb2;    // projection output, dim
    private readonly float[] _hb;     // feed-forward gate, hidden
    private readonly float[] _hb2;    // feed-forward up, hidden
    private readonly float[] _q;      // queries, dim
    private readonly float[] _att;    // attention scores of one head, seq_len
    private readonly float[] _logits; // vocab
    private readonly float[] _ropeFrequency; // per channel pair of a head, fixed
    private readonly float[] _ropeCos;       // per channel pair, for the current position
    private readonly float[] _ropeSin;

    /// <summary>Starts a sequence with an empty cache.</summary>
    /// <param name="model">The model.</param>
    public LlamaSession(LlamaModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        Model = model;
        _config = model.Config;
        _w = model.Weights;
        Cache = KvCache.For(_config);
        _x = new float[_config.Dim];
        _xb = new float[_config.Dim];
        _xb2 = new float[_config.Dim];
        _hb = new float[_config.HiddenDim];
        _hb2 = new float[_config.HiddenDim];
        _q = new float[_config.Dim];
        _att = new float[_config.SeqLen];
        _logits = new float[_config.VocabSize];
        int pairs = _config.HeadSize / 2;
        _ropeFrequency = new float[pairs];
        _ropeCos = new float[pairs];
        _ropeSin = new float[pairs];
        for (int pair = 0; pair < pairs; pair++)
        {
            // As run.c: head_dim = i % head_size for even i; freq = 1 / 10000^(head_dim / head_size), in float.
            int headDim = 2 * pair;
            _ropeFrequency[pair] = 1.0f / MathF.Pow(10000.0f, headDim / (float)_config.HeadSize);
        }
    }

    /// <summary>Starts a sequence that continues <paramref name="initial"/>: its filled positions are copied in, not recomputed.</summary>
    /// <param name="model">The model.</param>
    /// <param name="initial">A cache for this model's layout (layers and KV width); it is copied, not kept.</param>
    /// <exception cref="ArgumentException"><paramref name="initial"/> has another shape or more positions than the context.</exception>
    public LlamaSession(LlamaModel model, KvCache initial)
        : this(model)
    {
        CheckCompatible(initial, nameof(initial));
        initial.CopyPrefixTo(Cache, initial.Length);
    }

    /// <summary>The model.</summary>
    public LlamaModel Model { get; }

    /// <summary>The sequence's keys (after RoPE) and values; <see cref="KvCache.Length"/> is the next position.</summary>
    public KvCache Cache { get; }

    /// <summary>Positions this session has computed with the forward pass (positions copied from a cache are not counted).</summary>
    public long ForwardCount { get; private set; }

    /// <summary>
    /// Attention and MLP work this session has done, in multiply-accumulates: per position and layer, the Q, K, V and
    /// output projections, the attention scores and weighted sum over the positions attended, and the three feed-forward
    /// matrices (embedding lookups, norms and the classifier are not counted). The measure of prefill work a blend saves.
    /// </summary>
    public long Work { get; private set; }

    /// <summary>Empties the cache, to start a new sequence.</summary>
    public void Reset() => Cache.SetLength(0);

    /// <summary>
    /// Runs llama2.c's <c>forward(token, pos)</c>: writes the position's K and V into <see cref="Cache"/> and returns
    /// the logits. The cache then holds positions <c>0..position</c>; later positions, if any, are dropped.
    /// </summary>
    /// <param name="token">Token id, 0 to vocabulary size − 1.</param>
    /// <param name="position">0 to <see cref="KvCache.Length"/> (and below the context length).</param>
    /// <returns>Logits over the vocabulary, valid until the next call on this session.</returns>
    /// <exception cref="ArgumentOutOfRangeException">The token or position is out of range.</exception>
    public ReadOnlySpan<float> Forward(int token, int position)
    {
        CheckToken(token, nameof(token));
        if ((uint)position > (uint)Cache.Length || position >= Cache.Capacity)
            throw new ArgumentOutOfRangeException(
                nameof(position), position, $"Position must be within [0, {Math.Min(Cache.Length, Cache.Capacity - 1)}] (the cache holds {Cache.Length} of {Cache.Capacity}).");
        return ForwardCore(token, position);
    }

    /// <summary>
    /// Runs a whole sequence from position 0 and returns the logits of its last token. With <paramref name="reuse"/>,
    /// positions <c>0..n-1</c> are copied from it instead of computed, where n is its length (at most
    /// <c>tokens.Length − 1</c>: the last token is always computed, because its logits are the result). The caller
    /// vouches that <paramref name="reuse"/> was computed from the same leading tokens.
    /// </summary>
    /// <param name="tokens">1 to context-length tokens.</param>
    /// <param name="reuse">A cache holding the KV of a prefix of <paramref name="tokens"/>; null to compute everything.</param>
    /// <returns>Logits of the last token, valid until the next call on this session.</returns>
    /// <exception cref="ArgumentException">A token is out of range, there are no tokens or too many, or <paramref name="reuse"/> has another shape.</exception>
    public ReadOnlySpan<float> Prefill(ReadOnlySpan<int> tokens, KvCache? reuse = null)
    {
        CheckTokens(tokens, 0);
        int reused = 0;
        if (reuse is not null)
        {
            CheckCompatible(reuse, nameof(reuse));
            reused = Math.Min(reuse.Length, tokens.Length - 1);
            reuse.CopyPrefixTo(Cache, reused);
        }
        else
        {
            Cache.SetLength(0);
        }

        ReadOnlySpan<float> logits = default;
        for (int position = reused; position < tokens.Length; position++)
            logits = ForwardCore(tokens[position], position);
        return logits;
    }

    /// <summary>Continues the sequence: computes <paramref name="tokens"/> at positions <see cref="KvCache.Length"/> onwards.</summary>
    /// <param name="tokens">At least one token; the total may not exceed the context length.</param>
    /// <returns>Logits of the last token, valid until the next call on this session.</returns>
    /// <exception cref="ArgumentException">A token is out of range, there are none, or they would overflow the context.</exception>
    public ReadOnlySpan<float> Append(ReadOnlySpan<int> tokens)
    {
        int start = Cache.Length;
        CheckTokens(tokens, start);
        ReadOnlySpan<float> logits = default;
        for (int i = 0; i < tokens.Length; i++)
            logits = ForwardCore(tokens[i], start + i);
        return logits;
    }

    /// <summary>run.c's <c>forward</c>, with arguments already checked.</summary>
    private float[] ForwardCore(int token, int position)
    {
        LlamaConfig p = _config;
        int dim = p.Dim;
        int kvDim = p.KvDim;
        Span<float> x = _x;

        _w.TokenEmbedding.AsSpan(token * dim, dim).CopyTo(x);

        // The rotation depends only on the position and the channel pair, so compute it once for all layers and heads.
        SetRopeAngles(position);

        for (int layer = 0; layer < p.Layers; layer++)
        {
            Span<float> k = Cache.KeyStorage(layer).AsSpan(position * kvDim, kvDim);
            Span<float> v = Cache.ValueStorage(layer).AsSpan(position * kvDim, kvDim);
            ProjectQkv(layer, x, _q, k, v);
            AttendAndFeedForward(layer, position, _q, x);
        }

        VectorMath.RmsNorm(x, x, _w.RmsFinal);
        VectorMath.MatMul(_logits, x, _w.Classifier, dim, p.VocabSize);

        Cache.SetLength(position + 1);
        ForwardCount++;
        return _logits;
    }

    /// <summary>The current position's cos and sin per channel pair (<see cref="Rotate"/> reads them).</summary>
    private void SetRopeAngles(int position)
    {
        for (int pair = 0; pair < _ropeFrequency.Length; pair++)
        {
            float angle = position * _ropeFrequency[pair];
            _ropeCos[pair] = MathF.Cos(angle);
            _ropeSin[pair] = MathF.Sin(angle);
        }
    }

    /// <summary>
    /// The first half of a layer for one position (angles already set): RMSNorm of the residual <paramref name="x"/>,
    /// then Q, K and V, with RoPE applied to Q and K. <paramref name="q"/> may be empty when only K and V are wanted.
    /// </summary>
    private void ProjectQkv(int layer, ReadOnlySpan<float> x, Span<float> q, Span<float> k, Span<float> v)
    {
        int dim = _config.Dim;
        int kvDim = _config.KvDim;
        VectorMath.RmsNorm(_xb, x, _w.RmsAttention.AsSpan(layer * dim, dim));
        VectorMath.MatMul(k, _xb, _w.Wk.AsSpan(layer * kvDim * dim, kvDim * dim), dim, kvDim);
        VectorMath.MatMul(v, _xb, _w.Wv.AsSpan(layer * kvDim * dim, kvDim * dim), dim, kvDim);
        Rotate(k);
        Work += (long)(2 * kvDim) * dim;
        if (!q.IsEmpty)
            ProjectQuery(layer, q);
    }

    /// <summary>Q of the position whose normed input is in <c>_xb</c>, rotated.</summary>
    private void ProjectQuery(int layer, Span<float> q)
    {
        int dim = _config.Dim;
        VectorMath.MatMul(q, _xb, _w.Wq.AsSpan(layer * dim * dim, dim * dim), dim, dim);
        Rotate(q);
        Work += (long)dim * dim;
    }

    /// <summary>
    /// The rest of a layer for one position, whose K and V are already in the cache's rows: grouped-query attention of
    /// <paramref name="q"/> over rows <c>0..position</c>, the output projection and the SwiGLU feed-forward, both added
    /// to the residual <paramref name="x"/>.
    /// </summary>
    private void AttendAndFeedForward(int layer, int position, ReadOnlySpan<float> q, Span<float> x)
    {
        LlamaConfig p = _config;
        int dim = p.Dim;
        int kvDim = p.KvDim;
        int hidden = p.HiddenDim;
        int headSize = p.HeadSize;
        int kvMul = p.QueryHeadsPerKvHead;
        float attentionScale = MathF.Sqrt(headSize);
        ReadOnlySpan<float> keyCache = Cache.KeyStorage(layer);
        ReadOnlySpan<float> valueCache = Cache.ValueStorage(layer);

        // Grouped-query attention over positions 0..position.
        for (int h = 0; h < p.Heads; h++)
        {
            ReadOnlySpan<float> qh = q.Slice(h * headSize, headSize);
            int kvOffset = h / kvMul * headSize;
            Span<float> att = _att.AsSpan(0, position + 1);
            for (int t = 0; t <= position; t++)
            {
                float score = VectorMath.Dot(qh, keyCache.Slice(t * kvDim + kvOffset, headSize));
                att[t] = score / attentionScale;
            }

            VectorMath.Softmax(att);
            Span<float> xb = _xb.AsSpan(h * headSize, headSize);
            xb.Clear();
            for (int t = 0; t <= position; t++)
            {
                ReadOnlySpan<float> vt = valueCache.Slice(t * kvDim + kvOffset, headSize);
                float a = att[t];
                for (int i = 0; i < headSize; i++)
                    xb[i] += a * vt[i];
            }
        }

        VectorMath.MatMul(_xb2, _xb, _w.Wo.AsSpan(layer * dim * dim, dim * dim), dim, dim);
        for (int i = 0; i < dim; i++)
            x[i] += _xb2[i];

        // SwiGLU feed-forward: w2(silu(w1(x)) * w3(x)).
        VectorMath.RmsNorm(_xb, x, _w.RmsFeedForward.AsSpan(layer * dim, dim));
        VectorMath.MatMul(_hb, _xb, _w.W1.AsSpan(layer * hidden * dim, hidden * dim), dim, hidden);
        VectorMath.MatMul(_hb2, _xb, _w.W3.AsSpan(layer * hidden * dim, hidden * dim), dim, hidden);
        for (int i = 0; i < hidden; i++)
        {
            float val = _hb[i];
            val *= 1.0f / (1.0f + MathF.Exp(-val));
            val *= _hb2[i];
            _hb[i] = val;
        }

        VectorMath.MatMul(_xb, _hb, _w.W2.AsSpan(layer * dim * hidden, dim * hidden), hidden, dim);
        for (int i = 0; i < dim; i++)
            x[i] += _xb[i];
        Work += (long)(2 * p.Heads * headSize) * (position + 1) + (long)dim * dim + 3L * dim * hidden;
    }

    /// <summary>Rotates each adjacent channel pair of <paramref name="vector"/> (whole heads) by the current position's angles.</summary>
    private void Rotate(Span<float> vector)
    {
        int headSize = _config.HeadSize;
        for (int i = 0; i < vector.Length; i += 2)
        {
            int pair = i % headSize / 2;
            float fcr = _ropeCos[pair];
            float fci = _ropeSin[pair];
            float v0 = vector[i];
            float v1 = vector[i + 1];
            vector[i] = v0 * fcr - v1 * fci;
            vector[i + 1] = v0 * fci + v1 * fcr;
        }
    }

    private void CheckTokens(ReadOnlySpan<int> tokens, int start)
    {
        if (tokens.IsEmpty)
            throw new ArgumentException("At least one token is required.", nameof(tokens));
        if (tokens.Length > Cache.Capacity - start)
            throw new ArgumentException(
                $"{tokens.Length} tokens from position {start} exceed the context length of {Cache.Capacity}.", nameof(tokens));
        foreach (int token in tokens)
            CheckToken(token, nameof(tokens));
    }

    private void CheckToken(int token, string parameterName)
    {
        if ((uint)token >= (uint)_config.VocabSize)
            throw new ArgumentOutOfRangeException(parameterName, token, $"Token id must be within [0, {_config.VocabSize}).");
    }

    private void CheckCompatible(KvCache cache, string parameterName)
    {
        ArgumentNullException.ThrowIfNull(cache, parameterName);
        if (cache.Layers != _config.Layers || cache.KvDim != _config.KvDim)
            throw new ArgumentException(
                $"The cache has {cache.Layers} layers of {cache.KvDim} floats per position; model {Model.ModelId} needs {_config.Layers} of {_config.KvDim}.",
                parameterName);
        if (cache.Length > Cache.Capacity)
            throw new ArgumentException(
                $"The cache holds {cache.Length} positions, more than the context length of {Cache.Capacity}.", parameterName);
    }
}
