using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace KvTier.Reference;

/// <summary>
/// A llama2.c checkpoint in the legacy ("version 0") format that <c>run.c</c> reads.
/// </summary>
/// <remarks>
/// <code>
/// offset  size            field
/// 0       4  int32 LE     dim
/// 4       4  int32 LE     hidden_dim
/// 8       4  int32 LE     n_layers
/// 12      4  int32 LE     n_heads
/// 16      4  int32 LE     n_kv_heads
/// 20      4  int32 LE     vocab_size   (negative: an unshared classifier follows at the end)
/// 24      4  int32 LE     seq_len
/// 28      ...float32 LE   token_embedding[V][D], rms_att[L][D], wq[L][D][D], wk[L][K][D], wv[L][K][D],
///                         wo[L][D][D], rms_ffn[L][D], w1[L][H][D], w2[L][D][H], w3[L][H][D], rms_final[D],
///                         two legacy RoPE tables of seq_len*head_size/2 floats each (skipped),
///                         then wcls[V][D] only when vocab_size was negative
/// </code>
/// The reader checks every header field against fixed bounds and the file size against the size the header
/// implies before it allocates anything, so bad input ends in <see cref="InvalidModelFileException"/>.
/// An instance is immutable and may be shared between threads.
/// </remarks>
public sealed class LlamaCheckpoint
{
    /// <summary>Size of the header: seven int32 values.</summary>
    public const int HeaderSize = 7 * sizeof(int);

    private LlamaCheckpoint(LlamaConfig config, LlamaWeights weights)
    {
        Config = config;
        Weights = weights;
    }

    /// <summary>The hyperparameters from the header.</summary>
    public LlamaConfig Config { get; }

    /// <summary>The weights.</summary>
    public LlamaWeights Weights { get; }

    /// <summary>Reads a checkpoint file, tensor by tensor, without holding the whole file in memory twice.</summary>
    /// <param name="path">Path of the <c>.bin</c> file.</param>
    /// <returns>The checkpoint.</returns>
    /// <exception cref="InvalidModelFileException">The file is not a valid llama2.c checkpoint.</exception>
    /// <exception cref="IOException">The file cannot be opened or read.</exception>
    public static LlamaCheckpoint Load(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan);
        long fileLength = stream.Length;
        Span<byte> header = stackalloc byte[HeaderSize];
        int got = stream.ReadAtLeast(header, HeaderSize, throwOnEndOfStream: false);
        LlamaConfig config = ReadHeader(header[..got], fileLength, path);

        TensorSpec[] plan = Plan(config);
        var tensors = new float[plan.Length][];
        long offset = HeaderSize;
        for (int i = 0; i < plan.Length; i++)
        {
            try
            {
                if (plan[i].Skip)
                {
                    stream.Seek(plan[i].Elements * sizeof(float), SeekOrigin.Current);
                }
                else
                {
                    float[] tensor = new float[plan[i].Elements];
                    stream.ReadExactly(MemoryMarshal.AsBytes(tensor.AsSpan()));
                    FixEndianness(tensor);
                    tensors[i] = tensor;
                }
            }
            catch (EndOfStreamException e)
            {
                // The size was checked up front, so only a file that shrank while being read gets here.
                throw new InvalidModelFileException($"file ended inside tensor {plan[i].Name}", path, offset, e);
            }

            offset += plan[i].Elements * sizeof(float);
        }

        return new LlamaCheckpoint(config, Assemble(config, tensors));
    }

    /// <summary>Parses a checkpoint held in memory.</summary>
    /// <param name="bytes">The whole file.</param>
    /// <param name="sourceName">Name to report in errors (a path); null when unknown.</param>
    /// <returns>The checkpoint.</returns>
    /// <exception cref="InvalidModelFileException">The bytes are not a valid llama2.c checkpoint.</exception>
    public static LlamaCheckpoint Parse(ReadOnlySpan<byte> bytes, string? sourceName = null)
    {
        LlamaConfig config = ReadHeader(bytes[..Math.Min(bytes.Length, HeaderSize)], bytes.Length, sourceName);
        TensorSpec[] plan = Plan(config);
        var tensors = new float[plan.Length][];
        int offset = HeaderSize; // fits: the size check proved the file is no longer than bytes.Length
        for (int i = 0; i < plan.Length; i++)
        {
            int byteCount = checked((int)(plan[i].Elements * sizeof(float)));
            if (!plan[i].Skip)
            {
                float[] tensor = new float[plan[i].Elements];
                bytes.Slice(offset, byteCount).CopyTo(MemoryMarshal.AsBytes(tensor.AsSpan()));
                FixEndianness(tensor);
                tensors[i] = tensor;
            }

            offset += byteCount;
        }

        return new LlamaCheckpoint(config, Assemble(config, tensors));
    }

    /// <summary>The exact size in bytes of a checkpoint file for <paramref name="config"/>.</summary>
    /// <param name="config">The hyperparameters.</param>
    /// <returns>Header plus all tensors, including the skipped RoPE tables.</returns>
    public static long ExpectedFileSize(LlamaConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        long floats = 0;
        foreach (TensorSpec spec in Plan(config))
            floats = checked(floats + spec.Elements);
        return checked(HeaderSize + floats * sizeof(float));
    }

    /// <summary>Validates the header against fixed bounds and the file length; allocates nothing large.</summary>
    private static LlamaConfig ReadHeader(ReadOnlySpan<byte> header, long fileLength, string? source)
    {
        if (header.Length < HeaderSize)
            throw new InvalidModelFileException(
                $"file is {fileLength} bytes, shorter than the {HeaderSize}-byte llama2.c checkpoint header", source, fileLength);

        Span<int> fields = stackalloc int[7];
        for (int i = 0; i < fields.Length; i++)
            fields[i] = BinaryPrimitives.ReadInt32LittleEndian(header[(i * sizeof(int))..]);

        int rawVocab = fields[5];
        bool shared = rawVocab > 0;
        // int.MinValue has no positive counterpart; leave it negative so that the range check rejects it.
        int vocab = rawVocab == int.MinValue ? rawVocab : Math.Abs(rawVocab);
        if (LlamaConfig.Check(fields[0], fields[1], fields[2], fields[3], fields[4], vocab, fields[6], out int field) is { } problem)
            throw new InvalidModelFileException(
                $"not a llama2.c checkpoint header: {problem}", source, field * sizeof(int));

        var config = new LlamaConfig(fields[0], fields[1], fields[2], fields[3], fields[4], vocab, fields[6], shared);
        long expected = ExpectedFileSize(config); // cannot overflow: every factor is bounded (at most 2^52 bytes)
        if (fileLength != expected)
            throw new InvalidModelFileException(
                $"file is {fileLength} bytes but its header (dim {config.Dim}, hidden_dim {config.HiddenDim}, n_layers {config.Layers}, "
                + $"n_heads {config.Heads}, n_kv_heads {config.KvHeads}, vocab_size {rawVocab}, seq_len {config.SeqLen}) implies {expected} bytes",
                source,
                Math.Min(fileLength, expected));

        foreach (TensorSpec spec in Plan(config))
        {
            if (!spec.Skip && spec.Elements > Array.MaxLength)
                throw new InvalidModelFileException(
                    $"tensor {spec.Name} has {spec.Elements} elements, more than one array can hold", source);
        }

        return config;
    }

    /// <summary>The tensors in file order, with their element counts (long: they are products of bounded ints).</summary>
    private static TensorSpec[] Plan(LlamaConfig c)
    {
        long layers = c.Layers;
        long dim = c.Dim;
        long hidden = c.HiddenDim;
        long kvDim = c.KvDim;
        long vocab = c.VocabSize;
        var plan = new List<TensorSpec>(13)
        {
            new("token_embedding", vocab * dim, false),
            new("rms_att", layers * dim, false),
            new("wq", layers * dim * dim, false),
            new("wk", layers * kvDim * dim, false),
            new("wv", layers * kvDim * dim, false),
            new("wo", layers * dim * dim, false),
            new("rms_ffn", layers * dim, false),
            new("w1", layers * hidden * dim, false),
            new("w2", layers * dim * hidden, false),
            new("w3", layers * hidden * dim, false),
            new("rms_final", dim, false),
            new("freq_cis (legacy RoPE tables)", (long)c.SeqLen * c.HeadSize, true),
        };
        if (!c.SharedClassifier)
            plan.Add(new("wcls", vocab * dim, false));
        return [.. plan];
    }

    private static LlamaWeights Assemble(LlamaConfig config, float[][] t) => new(
        tokenEmbedding: t[0], rmsAttention: t[1], wq: t[2], wk: t[3], wv: t[4], wo: t[5],
        rmsFeedForward: t[6], w1: t[7], w2: t[8], w3: t[9], rmsFinal: t[10],
        classifier: config.SharedClassifier ? t[0] : t[12]);

    private static void FixEndianness(float[] tensor)
    {
        if (BitConverter.IsLittleEndian)
            return;
        Span<int> bits = MemoryMarshal.Cast<float, int>(tensor.AsSpan());
        BinaryPrimitives.ReverseEndianness(bits, bits);
    }

    private readonly record struct TensorSpec(string Name, long Elements, bool Skip);
}
