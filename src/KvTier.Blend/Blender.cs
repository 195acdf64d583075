using KvTier.Keys;
using KvTier.Layout;
using KvTier.Prefetch;

namespace KvTier.Blend;

/// <summary>
/// Assembles the KV of a prompt made of stored chunks placed anywhere (CacheBlend, EuroSys'25): gathers the chunks of a
/// <see cref="BlendPlan"/> through a <see cref="Prefetcher"/>, re-rotates each moved chunk's keys from the positions it
/// was computed at (the record's first position) to its target positions (<see cref="RopeRotation"/>), and hands the
/// result out layer by layer. Selective recomputation then runs through <see cref="RecomputeSelector"/>.
/// </summary>
/// <remarks>Thread-safe: any number of blends may run at once (each has its own request and buffers).</remarks>
public sealed class Blender
{
    /// <summary>Creates a blender for one model's key space.</summary>
    /// <param name="prefetcher">
    /// Reads the chunks. It must not skip chunks after a missing one (<see cref="PrefetcherOptions.SkipChunksAfterMissing"/>
    /// off, the default): in a blend every chunk counts on its own.
    /// </param>
    /// <param name="keys">The model's key space: its fingerprint's layout is the blend's layout, and its chunk size splits <see cref="BlendEntry.SegmentTokens"/> entries.</param>
    /// <param name="options">Options; default: <see cref="BlendOptions"/>'s defaults.</param>
    /// <exception cref="ArgumentException">The prefetcher skips chunks after a missing one.</exception>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range.</exception>
    public Blender(Prefetcher prefetcher, ChunkKeys keys, BlendOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(prefetcher);
        ArgumentNullException.ThrowIfNull(keys);
        options ??= new BlendOptions();
        options.Validate();
        if (prefetcher.Options.SkipChunksAfterMissing)
            throw new ArgumentException($"The prefetcher skips chunks after a missing one ({nameof(PrefetcherOptions)}.{nameof(PrefetcherOptions.SkipChunksAfterMissing)}); a blend needs every chunk it can get.", nameof(prefetcher));
        Prefetcher = prefetcher;
        Keys = keys;
        Options = options;
    }

    /// <summary>The prefetcher that reads the chunks.</summary>
    public Prefetcher Prefetcher { get; }

    /// <summary>The model's key space.</summary>
    public ChunkKeys Keys { get; }

    /// <summary>The model's KV layout (the key space's).</summary>
    public KvLayout Layout => Keys.Fingerprint.Layout;

    /// <summary>The options.</summary>
    public BlendOptions Options { get; }

    /// <summary>
    /// Starts assembling <paramref name="plan"/> and returns at once; layers arrive in order
    /// (<see cref="BlendRequest.WaitForLayerAsync"/>). Segments the store lacks become positions the engine computes.
    /// </summary>
    /// <param name="plan">The plan.</param>
    /// <param name="cancellationToken">Cancels the blend.</param>
    /// <returns>The running blend; dispose it.</returns>
    /// <exception cref="BlendException"><see cref="BlendErrorKind.OutOfRange"/>: the plan ends past <see cref="BlendOptions.ContextLength"/>.</exception>
    public BlendRequest Start(BlendPlan plan, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(plan);
        if (Options.ContextLength > 0 && plan.TokenCount > Options.ContextLength)
            throw new BlendException(BlendErrorKind.OutOfRange, $"The plan covers {plan.TokenCount} positions, past the context length of {Options.ContextLength}.");
        var request = new BlendRequest(this, plan, Resolve(plan), cancellationToken);
        request.Run();
        return request;
    }

    /// <summary>Assembles <paramref name="plan"/> and returns every layer.</summary>
    /// <param name="plan">The plan.</param>
    /// <param name="cancellationToken">Cancels the blend.</param>
    /// <returns>The blended KV (it owns its buffers; the request behind it is released).</returns>
    /// <exception cref="BlendException">The plan or a stored chunk does not fit (see <see cref="BlendErrorKind"/>).</exception>
    public async Task<BlendedKv> BlendAsync(BlendPlan plan, CancellationToken cancellationToken = default)
    {
        BlendRequest request = Start(plan, cancellationToken);
        await using (request.ConfigureAwait(false))
            return await request.Completion.ConfigureAwait(false);
    }

    // Splits token-span entries into one segment entry per chunk of the key space.
    private BlendEntry[] Resolve(BlendPlan plan)
    {
        var resolved = new List<BlendEntry>(plan.Entries.Count);
        foreach (BlendEntry entry in plan.Entries)
        {
            if (entry.Kind != BlendEntryKind.Segment || entry.Key is not null)
            {
                resolved.Add(entry);
                continue;
            }

            ReadOnlySpan<int> tokens = entry.Tokens.Span;
            foreach (TokenChunk chunk in Keys.Split(tokens.Length))
            {
                ChunkKey key = Keys.SegmentKey(tokens.Slice(chunk.Start, chunk.Count));
                resolved.Add(BlendEntry.Segment(key, chunk.Count, entry.TargetStart + chunk.Start));
            }
        }

        return [.. resolved];
    }
}
