using System.Globalization;
using KvTier.Keys;
using KvTier.Layout;
using KvTier.Tensors;

namespace KvTier.Reference;

/// <summary>
/// A KV cache as a safetensors file (format-spec/kv-safetensors.md): the exchange format of
/// <c>kvtier model kv</c>, readable by any safetensors tool. Not KvTier's storage format.
/// </summary>
/// <remarks>Stateless; safe to call from any thread.</remarks>
public static class KvCacheFile
{
    /// <summary>Value of the <c>format</c> metadata field this version writes and reads.</summary>
    public const string FormatName = "kvtier.kv-cache.v1";

    /// <summary>Name of the tensor holding the fed tokens.</summary>
    public const string TokensTensor = "tokens";

    /// <summary>Name of layer <paramref name="layer"/>'s key tensor.</summary>
    public static string KeysTensor(int layer) => string.Create(CultureInfo.InvariantCulture, $"layers.{layer}.k");

    /// <summary>Name of layer <paramref name="layer"/>'s value tensor.</summary>
    public static string ValuesTensor(int layer) => string.Create(CultureInfo.InvariantCulture, $"layers.{layer}.v");

    /// <summary>Builds the safetensors image of a KV cache.</summary>
    /// <param name="fingerprint">Model id and layout; the cache must have the layout's layers and KV width.</param>
    /// <param name="tokens">The token fed at each position; as many as the cache holds.</param>
    /// <param name="cache">The keys and values.</param>
    /// <param name="prompt">The prompt text, recorded when not null.</param>
    /// <exception cref="ArgumentException">The cache or tokens do not match the layout or each other.</exception>
    public static SafetensorsWriter CreateWriter(ModelFingerprint fingerprint, ReadOnlySpan<int> tokens, KvCache cache, string? prompt = null)
    {
        ArgumentNullException.ThrowIfNull(fingerprint);
        ArgumentNullException.ThrowIfNull(cache);
        KvLayout layout = fingerprint.Layout;
        if (cache.Layers != layout.Layers || cache.KvDim != layout.KvDim)
            throw new ArgumentException($"The cache has {cache.Layers} layers of width {cache.KvDim}; the layout has {layout.Layers} of width {layout.KvDim}.", nameof(cache));
        if (tokens.Length != cache.Length)
            throw new ArgumentException($"{tokens.Length} tokens for a cache of {cache.Length} positions.", nameof(tokens));

        var writer = new SafetensorsWriter();
        writer.AddMetadata("format", FormatName);
        writer.AddMetadata("model_id", fingerprint.ModelId);
        writer.AddMetadata("fingerprint", fingerprint.ToString());
        writer.AddMetadata("layers", Invariant(layout.Layers));
        writer.AddMetadata("kv_heads", Invariant(layout.KvHeads));
        writer.AddMetadata("head_dim", Invariant(layout.HeadDim));
        writer.AddMetadata("element_type", LayoutNames.Of(layout.ElementType));
        writer.AddMetadata("rope_pairing", LayoutNames.Of(layout.Rope.Pairing));
        writer.AddMetadata("rope_theta", layout.Rope.Theta.ToString("R", CultureInfo.InvariantCulture));
        writer.AddMetadata("rotary_dims", Invariant(layout.Rope.RotaryDims));
        writer.AddMetadata("keys_after_rope", layout.KeysStoredAfterRope ? "true" : "false");
        writer.AddMetadata("tokens", Invariant(tokens.Length));
        if (prompt is not null)
            writer.AddMetadata("prompt", prompt);

        writer.AddInt32(TokensTensor, tokens, tokens.Length);
        for (int layer = 0; layer < layout.Layers; layer++)
        {
            writer.AddFloat32(KeysTensor(layer), cache.Keys(layer), cache.Length, cache.KvDim);
            writer.AddFloat32(ValuesTensor(layer), cache.Values(layer), cache.Length, cache.KvDim);
        }

        return writer;
    }

    /// <summary>Writes a KV cache to <paramref name="path"/> crash-safely (a temporary file, flushed, then renamed over the target).</summary>
    /// <inheritdoc cref="CreateWriter"/>
    /// <param name="path">The file to write.</param>
    /// <param name="fingerprint">Model id and layout.</param>
    /// <param name="tokens">The token fed at each position.</param>
    /// <param name="cache">The keys and values.</param>
    /// <param name="prompt">The prompt text, recorded when not null.</param>
    public static void Write(string path, ModelFingerprint fingerprint, ReadOnlySpan<int> tokens, KvCache cache, string? prompt = null) =>
        CreateWriter(fingerprint, tokens, cache, prompt).WriteTo(path);

    /// <summary>Reads and validates a KV-cache file.</summary>
    /// <exception cref="SafetensorsFormatException">The file is not valid safetensors.</exception>
    /// <exception cref="KvCacheFileException">The file is safetensors but not a valid KV-cache file.</exception>
    public static KvCacheFileContents Read(string path) => Read(SafetensorsFile.Open(path));

    /// <summary>Validates a parsed safetensors file as a KV-cache file.</summary>
    /// <exception cref="KvCacheFileException">The file is not a valid KV-cache file.</exception>
    public static KvCacheFileContents Read(SafetensorsFile file)
    {
        ArgumentNullException.ThrowIfNull(file);
        string? source = file.SourceName;
        IReadOnlyDictionary<string, string> meta = file.Metadata;
        string format = Field(meta, "format", source);
        if (format != FormatName)
            throw new KvCacheFileException($"Format \"{format}\" is not {FormatName}.", source);

        ModelFingerprint fingerprint;
        try
        {
            var layout = new KvLayout(
                IntField(meta, "layers", source),
                IntField(meta, "kv_heads", source),
                IntField(meta, "head_dim", source),
                LayoutNames.ParseElementType(Field(meta, "element_type", source)),
                new RopeParameters(
                    double.Parse(Field(meta, "rope_theta", source), NumberStyles.Float, CultureInfo.InvariantCulture),
                    IntField(meta, "rotary_dims", source),
                    LayoutNames.ParsePairing(Field(meta, "rope_pairing", source))),
                Field(meta, "keys_after_rope", source) switch
                {
                    "true" => true,
                    "false" => false,
                    var other => throw new FormatException($"keys_after_rope is \"{other}\", not true or false."),
                });
            fingerprint = ModelFingerprint.Compute(Field(meta, "model_id", source), layout);
        }
        catch (Exception e) when (e is FormatException or ArgumentException or OverflowException)
        {
            throw new KvCacheFileException($"Invalid layout metadata: {e.Message}", source, e);
        }

        if (Field(meta, "fingerprint", source) != fingerprint.ToString())
            throw new KvCacheFileException($"The fingerprint field does not match model id \"{fingerprint.ModelId}\" and the layout (expected {fingerprint}).", source);

        int tokenCount = IntField(meta, "tokens", source);
        int expectedTensors = 1 + 2 * fingerprint.Layout.Layers;
        if (file.Tensors.Count != expectedTensors)
            throw new KvCacheFileException($"Expected {expectedTensors} tensors (tokens and K, V per layer); found {file.Tensors.Count}.", source);

        // Every tensor is checked before anything is allocated: the file's own bytes then bound the allocation.
        CheckTensor(file, TokensTensor, SafetensorsDType.I32, [tokenCount]);
        for (int layer = 0; layer < fingerprint.Layout.Layers; layer++)
        {
            CheckTensor(file, KeysTensor(layer), SafetensorsDType.F32, [tokenCount, fingerprint.Layout.KvDim]);
            CheckTensor(file, ValuesTensor(layer), SafetensorsDType.F32, [tokenCount, fingerprint.Layout.KvDim]);
        }

        int[] tokens = file.ToInt32Array(TokensTensor);
        var cache = new KvCache(fingerprint.Layout.Layers, fingerprint.Layout.KvDim, Math.Max(tokenCount, 1));
        int floats = tokenCount * fingerprint.Layout.KvDim;
        for (int layer = 0; layer < fingerprint.Layout.Layers; layer++)
        {
            // Copy (not the zero-copy views): correct on either endianness, and the cache is written exactly once.
            file.CopyFloat32(KeysTensor(layer), cache.WritableKeys(layer)[..floats]);
            file.CopyFloat32(ValuesTensor(layer), cache.WritableValues(layer)[..floats]);
        }

        cache.SetLength(tokenCount);
        meta.TryGetValue("prompt", out string? prompt);
        return new KvCacheFileContents(fingerprint, tokens, cache, prompt);
    }

    private static void CheckTensor(SafetensorsFile file, string name, SafetensorsDType dtype, long[] shape)
    {
        if (!file.TryGetTensor(name, out SafetensorsTensorInfo? tensor))
            throw new KvCacheFileException($"Tensor \"{name}\" is missing.", file.SourceName);
        if (tensor.DType != dtype || !tensor.Shape.AsSpan().SequenceEqual(shape))
        {
            throw new KvCacheFileException(
                $"Tensor \"{name}\" is {SafetensorsDTypes.GetName(tensor.DType)}[{string.Join(", ", tensor.Shape)}]; expected {SafetensorsDTypes.GetName(dtype)}[{string.Join(", ", shape)}].",
                file.SourceName);
        }
    }

    private static string Field(IReadOnlyDictionary<string, string> meta, string key, string? source) =>
        meta.TryGetValue(key, out string? value) ? value : throw new KvCacheFileException($"Metadata field \"{key}\" is missing.", source);

    private static int IntField(IReadOnlyDictionary<string, string> meta, string key, string? source) =>
        int.TryParse(Field(meta, key, source), NumberStyles.None, CultureInfo.InvariantCulture, out int value)
            ? value
            : throw new KvCacheFileException($"Metadata field \"{key}\" is not a non-negative integer.", source);

    private static string Invariant(int value) => value.ToString(CultureInfo.InvariantCulture);
}
