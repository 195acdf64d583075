using KvTier.Format;

namespace KvTier.Prefetch;

/// <summary>One layer of a request is in the destination: a decoded layer batch.</summary>
/// <param name="Layer">The layer.</param>
/// <param name="PrefixChunks">
/// How many leading chunks had this layer's K and V delivered: the chunks before the first missing one known when the
/// layer completed. Conservative: a chunk found corrupt in a later layer may already be excluded. The final answer for
/// the whole request is <see cref="PrefetchResult.ReusablePrefixChunks"/>.
/// </param>
/// <param name="Destination">The destination the layer was decoded into.</param>
public readonly record struct LayerReady(int Layer, int PrefixChunks, KvDestination Destination)
{
    /// <summary>The layer's keys: token rows × KV width, row-major (rows of chunks that are not delivered are unspecified).</summary>
    /// <exception cref="InvalidOperationException">The destination is on a device: use <c>Destination.DeviceSection</c>.</exception>
    public Memory<float> Keys => Destination.Section(Layer, SectionKind.Keys);

    /// <summary>The layer's values, laid out as <see cref="Keys"/>.</summary>
    /// <exception cref="InvalidOperationException">The destination is on a device: use <c>Destination.DeviceSection</c>.</exception>
    public Memory<float> Values => Destination.Section(Layer, SectionKind.Values);
}
