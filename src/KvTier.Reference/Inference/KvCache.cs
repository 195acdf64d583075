namespace KvTier.Reference;

/// <summary>
/// The attention keys and values of one sequence, as llama2.c keeps them: per layer, K (after RoPE) and V as float32
/// <c>[capacity][kvDim]</c>, row-major, one row per position. Positions <c>0..Length-1</c> are filled.
/// </summary>
/// <remarks>
/// Not thread-safe: one writer at a time, and no readers while it writes. Spans returned by the accessors stay
/// valid for the life of the cache (its storage never moves) but see later writes.
/// </remarks>
public sealed class KvCache
{
    private readonly float[][] _keys;
    private readonly float[][] _values;

    /// <summary>Creates an empty cache.</summary>
    /// <param name="layers">Transformer layers, at least 1.</param>
    /// <param name="kvDim">Floats per position per layer (KV heads × head size), at least 1.</param>
    /// <param name="capacity">Most positions the cache can hold, at least 1; <c>capacity × kvDim</c> must fit in one array.</param>
    /// <exception cref="ArgumentOutOfRangeException">A size is out of range.</exception>
    public KvCache(int layers, int kvDim, int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(layers, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(kvDim, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        if ((long)capacity * kvDim > Array.MaxLength)
            throw new ArgumentOutOfRangeException(nameof(capacity), capacity, $"capacity × kvDim ({(long)capacity * kvDim}) exceeds the largest array.");
        Layers = layers;
        KvDim = kvDim;
        Capacity = capacity;
        _keys = new float[layers][];
        _values = new float[layers][];
        for (int layer = 0; layer < layers; layer++)
        {
            _keys[layer] = new float[capacity * kvDim];
            _values[layer] = new float[capacity * kvDim];
        }
    }

    /// <summary>Creates an empty cache shaped for <paramref name="config"/>, holding its full context.</summary>
    /// <param name="config">The model's hyperparameters.</param>
    /// <returns>A cache with <see cref="LlamaConfig.Layers"/> layers, <see cref="LlamaConfig.KvDim"/> floats per row and <see cref="LlamaConfig.SeqLen"/> rows.</returns>
    public static KvCache For(LlamaConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        return new KvCache(config.Layers, config.KvDim, config.SeqLen);
    }

    /// <summary>Transformer layers.</summary>
    public int Layers { get; }

    /// <summary>Floats per position per layer.</summary>
    public int KvDim { get; }

    /// <summary>Most positions the cache can hold.</summary>
    public int Capacity { get; }

    /// <summary>Positions filled, starting at 0.</summary>
    public int Length { get; private set; }

    /// <summary>The keys (after RoPE) of one layer: <see cref="Length"/> × <see cref="KvDim"/> floats, position-major.</summary>
    /// <param name="layer">Layer index.</param>
    /// <returns>A view of the filled rows.</returns>
    public ReadOnlySpan<float> Keys(int layer) => _keys[CheckLayer(layer)].AsSpan(0, Length * KvDim);

    /// <summary>The values of one layer: <see cref="Length"/> × <see cref="KvDim"/> floats, position-major.</summary>
    /// <param name="layer">Layer index.</param>
    /// <returns>A view of the filled rows.</returns>
    public ReadOnlySpan<float> Values(int layer) => _values[CheckLayer(layer)].AsSpan(0, Length * KvDim);

    /// <summary>
    /// The whole key storage of one layer, <see cref="Capacity"/> × <see cref="KvDim"/> floats, for filling the cache from
    /// elsewhere. Writing does not change <see cref="Length"/>; call <see cref="SetLength"/> afterwards.
    /// </summary>
    /// <param name="layer">Layer index.</param>
    /// <returns>A writable view of every row.</returns>
    public Span<float> WritableKeys(int layer) => _keys[CheckLayer(layer)];

    /// <summary>
    /// The whole value storage of one layer, <see cref="Capacity"/> × <see cref="KvDim"/> floats. Writing does not change
    /// <see cref="Length"/>; call <see cref="SetLength"/> afterwards.
    /// </summary>
    /// <param name="layer">Layer index.</param>
    /// <returns>A writable view of every row.</returns>
    public Span<float> WritableValues(int layer) => _values[CheckLayer(layer)];

    /// <summary>
    /// Copies the first n positions of one layer into the cache, where n = <c>keys.Length / KvDim</c>.
    /// Does not change <see cref="Length"/>: load every layer, then call <see cref="SetLength"/>.
    /// </summary>
    /// <param name="layer">Layer index.</param>
    /// <param name="keys">n × <see cref="KvDim"/> keys, after RoPE.</param>
    /// <param name="values">n × <see cref="KvDim"/> values.</param>
    /// <exception cref="ArgumentException">The spans differ in length, are not whole rows, or hold more than <see cref="Capacity"/> rows.</exception>
    public void Load(int layer, ReadOnlySpan<float> keys, ReadOnlySpan<float> values)
    {
        CheckLayer(layer);
        if (keys.Length != values.Length)
            throw new ArgumentException($"Keys ({keys.Length} floats) and values ({values.Length} floats) differ in length.", nameof(values));
        if (keys.Length % KvDim != 0)
            throw new ArgumentException($"{keys.Length} floats are not whole rows of {KvDim}.", nameof(keys));
        if (keys.Length / KvDim > Capacity)
            throw new ArgumentException($"{keys.Length / KvDim} positions exceed the capacity of {Capacity}.", nameof(keys));
        keys.CopyTo(_keys[layer]);
        values.CopyTo(_values[layer]);
    }

    /// <summary>Declares how many positions are filled (after loading or to truncate).</summary>
    /// <param name="length">0 to <see cref="Capacity"/>.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="length"/> is out of range.</exception>
    public void SetLength(int length)
    {
        if ((uint)length > (uint)Capacity)
            throw new ArgumentOutOfRangeException(nameof(length), length, $"Length must be within [0, {Capacity}].");
        Length = length;
    }

    /// <summary>Copies the first <paramref name="tokens"/> positions into a new cache of the same shape and capacity.</summary>
    /// <param name="tokens">0 to <see cref="Length"/>.</param>
    /// <returns>An independent cache with <see cref="Length"/> = <paramref name="tokens"/>.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="tokens"/> is out of range.</exception>
    public KvCache TakePrefix(int tokens)
    {
        if ((uint)tokens > (uint)Length)
            throw new ArgumentOutOfRangeException(nameof(tokens), tokens, $"Prefix length must be within [0, {Length}].");
        var copy = new KvCache(Layers, KvDim, Capacity);
        CopyPrefixTo(copy, tokens);
        return copy;
    }

    /// <summary>Copies the first <paramref name="tokens"/> rows of every layer into <paramref name="destination"/> and sets its length.</summary>
    internal void CopyPrefixTo(KvCache destination, int tokens)
    {
        int floats = tokens * KvDim;
        for (int layer = 0; layer < Layers; layer++)
        {
            Array.Copy(_keys[layer], destination._keys[layer], floats);
            Array.Copy(_values[layer], destination._values[layer], floats);
        }

        destination.Length = tokens;
    }

    /// <summary>The key storage of a layer, for the forward pass.</summary>
    internal float[] KeyStorage(int layer) => _keys[layer];

    /// <summary>The value storage of a layer, for the forward pass.</summary>
    internal float[] ValueStorage(int layer) => _values[layer];

    private int CheckLayer(int layer)
    {
        if ((uint)layer >= (uint)Layers)
            throw new ArgumentOutOfRangeException(nameof(layer), layer, $"Layer must be within [0, {Layers}).");
        return layer;
    }
}
