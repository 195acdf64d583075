using System.Diagnostics;
using KvTier.Blend;

namespace KvTier.Reference;

/// <summary>How close a way of getting a prompt's KV comes to a full prefill, and what it cost.</summary>
/// <param name="MeanKl">Mean KL(full ‖ this) of the next-token distributions over the continuation positions, in nats.</param>
/// <param name="GreedyMatches">Whether greedy decoding from this KV writes the full prefill's continuation token for token.</param>
/// <param name="Work">Attention and MLP work of the prefill, in multiply-accumulates (<see cref="LlamaSession.Work"/>).</param>
/// <param name="WorkSaved">1 − <paramref name="Work"/> / the full prefill's work.</param>
/// <param name="RecomputedTokens">Positions computed through the last layer (the question's and those the selector kept).</param>
/// <param name="Elapsed">Wall time to the prompt's KV and last logits: reading and blending the stored chunks and the (partial) prefill; not the scoring.</param>
public sealed record BlendOutcome(double MeanKl, bool GreedyMatches, long Work, double WorkSaved, int RecomputedTokens, TimeSpan Elapsed);

/// <summary>
/// One retrieval-augmented prompt (<see cref="RagCorpus.Prompt"/> for one document order) and its full prefill, against
/// which other ways of getting its KV are measured: reusing only the prefix, blending with or without recomputation.
/// </summary>
/// <remarks>Not thread-safe (one session); create one per thread.</remarks>
public sealed class BlendEvaluation
{
    private readonly LlamaModel _model;
    private readonly LlamaSession _session;
    private readonly float[][] _reference;

    /// <summary>Runs the full prefill and its greedy continuation of <paramref name="steps"/> tokens.</summary>
    /// <param name="model">The model.</param>
    /// <param name="corpus">The corpus.</param>
    /// <param name="order">The documents, in prompt order.</param>
    /// <param name="steps">Continuation positions compared, at least 1; the prompt plus these must fit the context.</param>
    public BlendEvaluation(LlamaModel model, RagCorpus corpus, IReadOnlyList<int> order, int steps = 32)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(corpus);
        ArgumentNullException.ThrowIfNull(order);
        ArgumentOutOfRangeException.ThrowIfLessThan(steps, 1);
        _model = model;
        Corpus = corpus;
        Order = [.. order];
        Prompt = corpus.Prompt(order);
        if (Prompt.Length + steps > model.Config.SeqLen)
            throw new ArgumentException($"The prompt ({Prompt.Length} tokens) and {steps} continuation positions exceed the context of {model.Config.SeqLen}.", nameof(steps));
        Steps = steps;
        _session = model.CreateSession();
        long before = _session.Work;
        long start = Stopwatch.GetTimestamp();
        ReadOnlySpan<float> logits = _session.Prefill(Prompt);
        FullElapsed = Stopwatch.GetElapsedTime(start);
        FullWork = _session.Work - before;
        var continuation = new int[Prompt.Length + steps];
        Prompt.CopyTo(continuation, 0);
        int position = Prompt.Length;
        for (int k = 0; k < steps; k++)
        {
            continuation[position + k] = GreedySampler.Argmax(logits);
            if (k + 1 < steps)
                logits = _session.Forward(continuation[position + k], position + k);
        }

        ReferenceTokens = continuation;
        FullCache = _session.Cache.TakePrefix(Prompt.Length);
        _reference = ContinuationQuality.NextTokenDistributions(model, FullCache.TakePrefix(Prompt.Length - 1), ReferenceTokens, Prompt.Length - 1, steps);
    }

    /// <summary>The corpus.</summary>
    public RagCorpus Corpus { get; }

    /// <summary>The documents, in prompt order.</summary>
    public IReadOnlyList<int> Order { get; }

    /// <summary>The prompt's tokens.</summary>
    public int[] Prompt { get; }

    /// <summary>Continuation positions compared.</summary>
    public int Steps { get; }

    /// <summary>The prompt followed by the full prefill's greedy continuation.</summary>
    public int[] ReferenceTokens { get; }

    /// <summary>The full prefill's KV of the prompt.</summary>
    public KvCache FullCache { get; }

    /// <summary>The full prefill's work.</summary>
    public long FullWork { get; }

    /// <summary>The full prefill's wall time.</summary>
    public TimeSpan FullElapsed { get; }

    /// <summary>Scores a prompt KV obtained some other way at a cost of <paramref name="work"/>.</summary>
    /// <param name="cache">KV of at least the prompt's positions (later ones are ignored).</param>
    /// <param name="work">What computing it cost.</param>
    /// <param name="recomputed">Positions computed through the last layer.</param>
    /// <param name="elapsed">How long computing it took.</param>
    public BlendOutcome Score(KvCache cache, long work, int recomputed, TimeSpan elapsed)
    {
        ArgumentNullException.ThrowIfNull(cache);
        int start = Prompt.Length - 1;
        KvCache prefix = cache.TakePrefix(start);
        float[][] distributions = ContinuationQuality.NextTokenDistributions(_model, prefix, ReferenceTokens, start, Steps);
        bool matches = ContinuationQuality.GreedyMatches(_model, prefix, ReferenceTokens, start, Steps);
        return new BlendOutcome(ContinuationQuality.MeanKl(_reference, distributions), matches, work, 1 - (double)work / FullWork, recomputed, elapsed);
    }

    /// <summary>The full prefill itself (the ceiling: KL 0, nothing saved).</summary>
    public BlendOutcome FullPrefill() => Score(FullCache, FullWork, Prompt.Length, FullElapsed);

    /// <summary>
    /// Prefix caching: the system prompt and the first document are reused exactly (that is what was stored under their
    /// prefix keys, computed in this order), every later position is computed.
    /// </summary>
    public BlendOutcome PrefixOnly()
    {
        int reused = Corpus.Prefix.Count + (Order.Count > 0 ? Corpus.Documents[Order[0]].Length : 0);
        _session.Prefill(Prompt.AsSpan(0, reused));
        KvCache exact = _session.Cache.TakePrefix(reused);
        long before = _session.Work;
        long start = Stopwatch.GetTimestamp();
        _session.Prefill(Prompt, exact);
        TimeSpan elapsed = Stopwatch.GetElapsedTime(start);
        return Score(_session.Cache, _session.Work - before, Prompt.Length - reused, elapsed);
    }

    /// <summary>
    /// Blends the prompt from the store (<see cref="RagStore.Plan"/>) and runs the reference engine's selective
    /// recomputation over it (<see cref="LlamaSession.PrefillBlended"/>).
    /// </summary>
    /// <param name="blender">The blender over the store holding the corpus (<see cref="RagStore.StoreCorpus"/>).</param>
    /// <param name="recompute">Recomputation options; null to reuse every stored position as it is.</param>
    /// <param name="cancellationToken">Cancels the blend.</param>
    public Task<BlendOutcome> BlendAsync(Blender blender, RecomputeOptions? recompute, CancellationToken cancellationToken = default) =>
        BlendAsync(blender, _ => recompute, cancellationToken);

    /// <summary>As <see cref="BlendAsync(Blender, RecomputeOptions?, CancellationToken)"/>, with options chosen once the blend is assembled (to score against it, say).</summary>
    /// <param name="blender">The blender over the store holding the corpus.</param>
    /// <param name="recomputeFor">Gives the recomputation options for the assembled blend; null to reuse every stored position as it is.</param>
    /// <param name="cancellationToken">Cancels the blend.</param>
    public async Task<BlendOutcome> BlendAsync(Blender blender, Func<BlendedKv, RecomputeOptions?> recomputeFor, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(blender);
        ArgumentNullException.ThrowIfNull(recomputeFor);
        BlendPlan plan = RagStore.Plan(blender.Keys, Corpus, Order);
        long start = Stopwatch.GetTimestamp();
        BlendedKv kv = await blender.BlendAsync(plan, cancellationToken).ConfigureAwait(false);
        TimeSpan blending = Stopwatch.GetElapsedTime(start);
        RecomputeOptions? recompute = recomputeFor(kv); // not timed: it may score against the full prefill
        start = Stopwatch.GetTimestamp();
        RecomputeSelector? selector = recompute is null ? null : new RecomputeSelector(kv, recompute, [Prompt.Length - 1]);
        long before = _session.Work;
        long forwardBefore = _session.ForwardCount;
        _session.PrefillBlended(Prompt, kv, selector);
        TimeSpan elapsed = blending + Stopwatch.GetElapsedTime(start);
        return Score(_session.Cache, _session.Work - before, (int)(_session.ForwardCount - forwardBefore), elapsed);
    }

    /// <summary>
    /// As <see cref="BlendAsync(Blender, RecomputeOptions?, CancellationToken)"/>, but the engine computes each layer as
    /// soon as the blend has assembled it (<see cref="LlamaSession.PrefillBlendedAsync"/>), overlapping the load of later
    /// layers with its compute; the same KV and logits, bit for bit.
    /// </summary>
    /// <param name="blender">The blender over the store holding the corpus.</param>
    /// <param name="recompute">Recomputation options; null to reuse every stored position as it is.</param>
    /// <param name="cancellationToken">Cancels the blend.</param>
    public async Task<BlendOutcome> BlendStreamedAsync(Blender blender, RecomputeOptions? recompute, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(blender);
        BlendPlan plan = RagStore.Plan(blender.Keys, Corpus, Order);
        long before = _session.Work;
        long forwardBefore = _session.ForwardCount;
        long start = Stopwatch.GetTimestamp();
        BlendRequest request = blender.Start(plan, cancellationToken);
        await using (request.ConfigureAwait(false))
        {
            await _session.PrefillBlendedAsync(Prompt, request,
                kv => recompute is null ? null : new RecomputeSelector(kv, recompute, [Prompt.Length - 1]), cancellationToken).ConfigureAwait(false);
        }

        TimeSpan elapsed = Stopwatch.GetElapsedTime(start);
        return Score(_session.Cache, _session.Work - before, (int)(_session.ForwardCount - forwardBefore), elapsed);
    }
}
