using KvTier.Format;
using KvTier.Layout;

namespace KvTier.Reference;

/// <summary>
/// Moves KV between the reference model's <see cref="KvCache"/> (binary32, what the engine computes with) and
/// <see cref="KvChunk"/> (the engine's element type, what records encode): the engine side of storing and
/// loading a chunk.
/// </summary>
/// <remarks>Stateless; safe to call from any thread on distinct caches.</remarks>
public static class KvCacheChunks
{
    /// <summary>Copies positions <c>[start, start + count)</c> of <paramref name="cache"/> into a new chunk of <paramref name="layout"/>, rounding to its element type.</summary>
    /// <param name="cache">The source cache.</param>
    /// <param name="start">First position to copy.</param>
    /// <param name="count">Positions to copy, at least 1.</param>
    /// <param name="layout">The chunk's layout; its layers and KV width must match the cache.</param>
    /// <exception cref="ArgumentException">The layout does not match the cache, or the range lies outside it.</exception>
    public static KvChunk ToChunk(KvCache cache, int start, int count, KvLayout layout)
    {
        ArgumentNullException.ThrowIfNull(cache);
        ArgumentNullException.ThrowIfNull(layout);
        CheckShape(cache, layout);
        if (start < 0 || count < 1 || (long)start + count > cache.Length)
            throw new ArgumentOutOfRangeException(nameof(count), $"Positions [{start}, {(long)start + count}) are not within the cache's {cache.Length}.");

        var chunk = new KvChunk(layout, count);
        int kvDim = layout.KvDim;
        for (int layer = 0; layer < layout.Layers; layer++)
        {
            chunk.SetSingle(layer, SectionKind.Keys, cache.Keys(layer).Slice(start * kvDim, count * kvDim));
            chunk.SetSingle(layer, SectionKind.Values, cache.Values(layer).Slice(start * kvDim, count * kvDim));
        }

        return chunk;
    }

    /// <summary>
    /// Writes a chunk's KV into <paramref name="cache"/> at positions <c>[start, start + chunk.TokenCount)</c> (widened
    /// to binary32) and extends the cache's length to cover them. Positions before <paramref name="start"/> must
    /// already be filled.
    /// </summary>
    /// <exception cref="ArgumentException">The chunk does not fit the cache's shape, capacity or filled length.</exception>
    public static void LoadInto(KvChunk chunk, KvCache cache, int start)
    {
        ArgumentNullException.ThrowIfNull(chunk);
        ArgumentNullException.ThrowIfNull(cache);
        CheckShape(cache, chunk.Layout);
        if (start < 0 || start > cache.Length || (long)start + chunk.TokenCount > cache.Capacity)
            throw new ArgumentOutOfRangeException(nameof(start), start, $"A chunk of {chunk.TokenCount} tokens at {start} does not fit a cache of length {cache.Length} and capacity {cache.Capacity}.");

        int kvDim = chunk.Layout.KvDim;
        for (int layer = 0; layer < chunk.Layout.Layers; layer++)
        {
            chunk.GetSingle(layer, SectionKind.Keys, cache.WritableKeys(layer).Slice(start * kvDim, chunk.ElementsPerSection));
            chunk.GetSingle(layer, SectionKind.Values, cache.WritableValues(layer).Slice(start * kvDim, chunk.ElementsPerSection));
        }

        cache.SetLength(Math.Max(cache.Length, start + chunk.TokenCount));
    }

    private static void CheckShape(KvCache cache, KvLayout layout)
    {
        if (cache.Layers != layout.Layers || cache.KvDim != layout.KvDim)
            throw new ArgumentException($"The cache has {cache.Layers} layers of width {cache.KvDim}; the layout has {layout.Layers} of width {layout.KvDim}.", nameof(layout));
    }
}
