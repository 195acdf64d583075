using KvTier.Format;
using KvTier.Format.Codecs;
using KvTier.Format.Elements;
using KvTier.Keys;
using KvTier.Layout;
using KvTier.LlamaSharp.State;
using KvTier.Prefetch;
using KvTier.Storage;
using LLama;
using LLama.Exceptions;
using LLama.Native;

namespace KvTier.LlamaSharp;

/// <summary>
/// KvTier as the prefix cache of a LLamaSharp (llama.cpp) context, the way LMCache serves vLLM: before a prompt is
/// evaluated, <see cref="PrefillAsync"/> finds the longest run of whole chunks the store holds, loads them through the
/// <see cref="Prefetch.Prefetcher"/> into the sequence's KV cache (as a llama.cpp sequence state, <see cref="SequenceState"/>),
/// and evaluates only the rest; after it, <see cref="StoreAsync"/> saves the sequence's KV and puts the chunks the store
/// lacks. A chunk that is corrupt, of another layout or at another position is never loaded: it and everything after it
/// are evaluated instead.
/// </summary>
/// <remarks>
/// Concurrency: a llama.cpp context is not thread-safe, so calls on one instance (and any other use of its context) must
/// not overlap. The store and prefetcher may be shared with other instances and threads.
/// Memory: an instance keeps its largest load's buffers for the next one: the state blob (the reused tokens' KV in the
/// cache's type, at most the context's) and one load window (<see cref="KvTierLlamaCacheOptions.LoadWindowBytes"/>).
/// </remarks>
public sealed class KvTierLlamaCache
{
    // Encoded records StoreAsync holds before it puts them.
    private const long StoreBatchBytes = 64L << 20;

    private readonly SequenceStateShape _shape;
    private KvDestination? _loadWindow;   // reused by every load (see LoadWindow)
    private byte[]? _stateBuffer;         // reused by every load (see StateBuffer)
    private bool? _valuesTransposed; // how this context stores V, learned from the first state it saves

    /// <summary>Connects a context to a store.</summary>
    /// <param name="context">The engine context; its cache type must be F32 or F16 (K and V alike).</param>
    /// <param name="prefetcher">Loads chunks from its <see cref="Prefetcher.Store"/>.</param>
    /// <param name="keys">The key space: its fingerprint's layout must be the context's (<see cref="LlamaKvLayout.FromContext"/>; see <see cref="CreateKeys"/>).</param>
    /// <param name="options">Options; default: <see cref="KvTierLlamaCacheOptions"/>'s defaults.</param>
    /// <exception cref="ArgumentException">The keys' layout is not the context's.</exception>
    /// <exception cref="NotSupportedException">The context's cache type or RoPE type is not supported.</exception>
    public KvTierLlamaCache(LLamaContext context, Prefetcher prefetcher, ChunkKeys keys, KvTierLlamaCacheOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(prefetcher);
        ArgumentNullException.ThrowIfNull(keys);
        options ??= new KvTierLlamaCacheOptions();
        options.Validate();
        KvLayout layout = LlamaKvLayout.FromContext(context);
        if (!keys.Fingerprint.Layout.Equals(layout))
            throw new ArgumentException($"The keys' layout ({keys.Fingerprint.Layout}) is not the context's ({layout}).", nameof(keys));
        Context = context;
        Prefetcher = prefetcher;
        Keys = keys;
        Layout = layout;
        Options = options;
        _shape = SequenceStateShape.For(layout, valuesTransposed: null);
    }

    /// <summary>The engine context.</summary>
    public LLamaContext Context { get; }

    /// <summary>The prefetcher that loads chunks.</summary>
    public Prefetcher Prefetcher { get; }

    /// <summary>The store chunks are looked up in and put into.</summary>
    public KvStore Store => Prefetcher.Store;

    /// <summary>The key space (model fingerprint, namespace, chunk size).</summary>
    public ChunkKeys Keys { get; }

    /// <summary>The context's KV layout.</summary>
    public KvLayout Layout { get; }

    /// <summary>The options.</summary>
    public KvTierLlamaCacheOptions Options { get; }

    /// <summary>The key space for <paramref name="context"/>: <paramref name="modelId"/> and the context's layout.</summary>
    /// <param name="context">The engine context.</param>
    /// <param name="modelId">The model's id, e.g. its file name and revision; caches are shared only under the same id.</param>
    /// <param name="namespace">Tenant namespace; "" is shared.</param>
    /// <param name="chunkTokens">Tokens per chunk. Default: 256.</param>
    public static ChunkKeys CreateKeys(LLamaContext context, string modelId, string @namespace = "", int chunkTokens = ChunkKeys.DefaultChunkTokens) =>
        new(modelId, LlamaKvLayout.FromContext(context), @namespace, chunkTokens);

    /// <summary>
    /// <paramref name="text"/> tokenized by the context's model, as <see cref="PrefillAsync"/> and <see cref="StoreAsync"/>
    /// take it (special tokens in the text are not parsed).
    /// </summary>
    /// <param name="text">The prompt text.</param>
    /// <param name="addBos">Whether to start with the model's beginning-of-sequence token. Default: true.</param>
    public int[] Tokenize(string text, bool addBos = true)
    {
        ArgumentNullException.ThrowIfNull(text);
        LLamaToken[] tokens = Context.Tokenize(text, addBos, special: false);
        var result = new int[tokens.Length];
        for (int i = 0; i < tokens.Length; i++)
            result[i] = (int)tokens[i];
        return result;
    }

    /// <summary>
    /// Evaluates <paramref name="tokens"/> in <paramref name="sequence"/> from position 0, reusing the longest stored run of
    /// whole chunks (at most all but the last token, whose logits are the result). The sequence's previous contents are
    /// removed first. Memory: the reused tokens' K and V once in the cache's type (the state blob llama.cpp imports),
    /// plus <see cref="KvTierLlamaCacheOptions.LoadWindowBytes"/> of rows being loaded.
    /// </summary>
    /// <param name="tokens">1 to the context size tokens.</param>
    /// <param name="sequence">The sequence to fill.</param>
    /// <param name="cancellationToken">Cancels the lookup, the load and the evaluation between batches.</param>
    /// <exception cref="ArgumentException">No tokens, or more than the context holds.</exception>
    /// <exception cref="LLamaDecodeError">The engine failed to evaluate.</exception>
    /// <exception cref="InvalidOperationException">llama.cpp refused a state blob built from records that passed every check (a bug).</exception>
    public async Task<LlamaPrefillResult> PrefillAsync(ReadOnlyMemory<int> tokens, LLamaSeqId sequence, CancellationToken cancellationToken = default)
    {
        CheckTokens(tokens.Length);
        cancellationToken.ThrowIfCancellationRequested();
        int chunkTokens = Keys.ChunkTokens;
        int candidates = (tokens.Length - 1) / chunkTokens;
        ChunkKey[] keys = Keys.PrefixKeys(tokens.Span[..(candidates * chunkTokens)], includePartial: false);
        int stored = keys.Length == 0 ? 0 : await Store.LongestPrefixAsync(keys, cancellationToken).ConfigureAwait(false);

        int reusedChunks = 0, rejected = 0;
        ChunkSource? tier = null;
        if (stored > 0)
        {
            EnsureValuesOrientation(sequence, tokens.Span[0]);
            (reusedChunks, rejected, tier) = await LoadAsync(keys.AsMemory(0, stored), sequence, cancellationToken).ConfigureAwait(false);
        }
        else
        {
            ClearSequence(sequence);
        }

        int reused = reusedChunks * chunkTokens;
        float[] logits = await EvaluateAsync(tokens[reused..], reused, sequence, cancellationToken).ConfigureAwait(false);
        return new LlamaPrefillResult(logits, reused, tokens.Length - reused, reusedChunks, rejected, tier);
    }

    /// <summary>
    /// Saves the KV of <paramref name="sequence"/>, which holds <paramref name="tokens"/> at positions 0, 1, … (and may
    /// hold more after them), and puts every whole chunk of them the store lacks. The caller vouches that the sequence
    /// was computed from exactly these tokens. Memory: llama.cpp's saved state of the whole sequence twice (the blob and
    /// its parsed rows) while the chunks are encoded, and at most 64 MiB of encoded records before they are put.
    /// </summary>
    /// <param name="tokens">The tokens the sequence holds, from position 0.</param>
    /// <param name="sequence">The sequence.</param>
    /// <param name="cancellationToken">Cancels the puts.</param>
    /// <exception cref="InvalidOperationException">The sequence does not hold a cell at every position of the whole chunks.</exception>
    /// <exception cref="LlamaStateFormatException">llama.cpp's state is not of the layout this connector expects.</exception>
    public async Task<LlamaStoreResult> StoreAsync(ReadOnlyMemory<int> tokens, LLamaSeqId sequence, CancellationToken cancellationToken = default)
    {
        CheckTokens(tokens.Length);
        cancellationToken.ThrowIfCancellationRequested();
        int chunkTokens = Keys.ChunkTokens;
        int whole = tokens.Length / chunkTokens;
        int rest = tokens.Length - whole * chunkTokens;
        ChunkKey[] keys = Keys.PrefixKeys(tokens.Span[..(whole * chunkTokens)], includePartial: false);
        var missing = new List<int>();
        for (int i = 0; i < keys.Length; i++)
        {
            if (!Store.Contains(keys[i]))
                missing.Add(i);
        }
        if (missing.Count == 0)
            return new LlamaStoreResult(0, whole, rest);

        SequenceState state = SaveState(sequence);
        int[] cells = state.CellsOfPositions(whole * chunkTokens);
        int rowBytes = state.RowBytes;
        var records = new List<ReadOnlyMemory<byte>>();
        long batchBytes = 0;
        foreach (int i in missing)
        {
            var chunk = new KvChunk(Layout, chunkTokens);
            for (int layer = 0; layer < Layout.Layers; layer++)
            {
                CopyRows(state.Keys(layer), chunk.Section(layer, SectionKind.Keys), cells, i * chunkTokens, chunkTokens, rowBytes);
                CopyRows(state.Values(layer), chunk.Section(layer, SectionKind.Values), cells, i * chunkTokens, chunkTokens, rowBytes);
            }
            var metadata = new ChunkRecordMetadata(Keys.Fingerprint, keys[i], ChunkKeyKind.Prefix, i * chunkTokens);
            byte[] record = ChunkRecordWriter.Encode(chunk, metadata, Options.Codec, Options.Level);
            records.Add(record);
            batchBytes += record.Length;
            if (batchBytes >= StoreBatchBytes)
            {
                // Bounded: the encoded records of a long prompt are put a batch at a time, not held all at once.
                await Store.PutBatchAsync(records, cancellationToken).ConfigureAwait(false);
                records.Clear();
                batchBytes = 0;
            }
        }
        if (records.Count > 0)
            await Store.PutBatchAsync(records, cancellationToken).ConfigureAwait(false);
        return new LlamaStoreResult(missing.Count, whole - missing.Count, rest);
    }

    /// <summary>
    /// Evaluates <paramref name="tokens"/> in <paramref name="sequence"/> at positions <paramref name="firstPosition"/>
    /// onwards (in batches of the context's batch size) and returns the last token's logits: the next step of a generation.
    /// </summary>
    /// <param name="tokens">At least one token.</param>
    /// <param name="firstPosition">The position of the first token (the sequence holds every earlier one).</param>
    /// <param name="sequence">The sequence.</param>
    /// <param name="cancellationToken">Cancels between batches.</param>
    /// <exception cref="ArgumentException">No tokens, or they would run past the context.</exception>
    /// <exception cref="LLamaDecodeError">The engine failed to evaluate.</exception>
    public async Task<float[]> EvaluateAsync(ReadOnlyMemory<int> tokens, int firstPosition, LLamaSeqId sequence, CancellationToken cancellationToken = default)
    {
        if (tokens.Length < 1)
            throw new ArgumentException("At least one token must be evaluated.", nameof(tokens));
        if (firstPosition < 0 || (long)firstPosition + tokens.Length > Context.ContextSize)
            throw new ArgumentException($"Positions [{firstPosition}, {(long)firstPosition + tokens.Length}) run past the context of {Context.ContextSize}.", nameof(tokens));
        int batchSize = (int)Math.Max(1u, Context.BatchSize);
        var batch = new LLamaBatch();
        for (int start = 0; start < tokens.Length; start += batchSize)
        {
            cancellationToken.ThrowIfCancellationRequested();
            batch.Clear();
            int count = Math.Min(batchSize, tokens.Length - start);
            bool last = start + count == tokens.Length;
            for (int j = 0; j < count; j++)
                batch.Add((LLamaToken)tokens.Span[start + j], firstPosition + start + j, sequence, last && j == count - 1);
            DecodeResult result = await Context.DecodeAsync(batch, cancellationToken).ConfigureAwait(false);
            if (result != DecodeResult.Ok)
                throw new LLamaDecodeError(result);
        }
        return Context.NativeHandle.GetLogitsIth(batch.TokenCount - 1).ToArray();
    }

    /// <summary>Removes every cell of <paramref name="sequence"/> from the context's KV cache.</summary>
    public void ClearSequence(LLamaSeqId sequence) => Context.NativeHandle.MemorySequenceRemove(sequence, -1, -1);

    /// <summary>Saves <paramref name="sequence"/>'s state and parses it (checked against the context's layout).</summary>
    /// <exception cref="LlamaStateFormatException">The state is not of the layout this connector expects.</exception>
    public SequenceState SaveState(LLamaSeqId sequence)
    {
        byte[] blob = SaveStateBlob(sequence);
        SequenceState state = SequenceState.Parse(blob, _shape with { ValuesTransposed = _valuesTransposed }, (int)Math.Min(Context.ContextSize, SequenceState.MaxCells));
        if (state.CellCount > 0)
            _valuesTransposed ??= state.ValuesTransposed;
        return state;
    }

    // Loads the leading loadable chunks of `keys` into the sequence; returns how many, how many were rejected, and the tier.
    // Chunks are prefetched a window at a time (KvTierLlamaCacheOptions.LoadWindowBytes of fp32 rows) and converted into
    // their place in llama.cpp's state blob, so a load holds the blob and one window, not the whole prompt in fp32 too.
    private async Task<(int Reused, int Rejected, ChunkSource? Tier)> LoadAsync(ReadOnlyMemory<ChunkKey> keys, LLamaSeqId sequence, CancellationToken cancellationToken)
    {
        int chunkTokens = Keys.ChunkTokens;
        int count = keys.Length;
        long chunkBytes = 2L * Layout.Layers * Layout.KvDim * sizeof(float) * chunkTokens;
        int window = (int)Math.Clamp(Options.LoadWindowBytes / chunkBytes, 1, count);
        KvDestination destination = LoadWindow(window * chunkTokens);
        var writer = new SequenceStateWriter((int)sequence, Layout.Layers, Layout.KvDim, Layout.ElementType, _valuesTransposed!.Value, count * chunkTokens,
            StateBuffer(count * chunkTokens));
        int usable = 0;
        ChunkSource? tier = null;
        for (int first = 0; first < count; first += window)
        {
            int chunks = Math.Min(window, count - first);
            int loaded = 0;
            PrefetchRequest request = Prefetcher.Start(keys.Slice(first, chunks).ToArray(), destination, cancellationToken);
            await using (request.ConfigureAwait(false))
            {
                PrefetchResult result = await request.Completion.WaitAsync(cancellationToken).ConfigureAwait(false);
                for (; loaded < chunks; loaded++)
                {
                    int chunk = first + loaded;
                    if (result.Chunks[loaded] != ChunkStatus.Loaded || !Fits(request.GetChunkHeader(loaded), keys.Span[chunk], chunk * chunkTokens))
                        break;
                    if (request.GetChunkSource(loaded) is { } source && (tier is null || source > tier)) // the slowest: memory < disk < remote
                        tier = source;
                }
            }

            int tokens = loaded * chunkTokens;
            for (int layer = 0; layer < Layout.Layers && tokens > 0; layer++)
            {
                writer.WriteRows(layer, SectionKind.Keys, first * chunkTokens, destination.Rows(layer, SectionKind.Keys, 0, tokens).Span);
                writer.WriteRows(layer, SectionKind.Values, first * chunkTokens, destination.Rows(layer, SectionKind.Values, 0, tokens).Span);
            }
            usable += loaded;
            if (loaded < chunks)
                break;
        }

        int rejected = count - usable;
        ClearSequence(sequence);
        if (usable == 0)
            return (0, rejected, null);
        writer.Truncate(usable * chunkTokens);
        LoadStateBlob(writer.Buffer, writer.Length, sequence);
        int last = Context.NativeHandle.MemorySequenceMaxPosition(sequence).Value;
        if (last != usable * chunkTokens - 1)
            throw new InvalidOperationException($"llama.cpp loaded the state of {usable * chunkTokens} tokens but the sequence ends at position {last}.");
        return (usable, rejected, tier);
    }

    // A loaded record may be used only when it is of this model and layout, this chunk's key, a whole chunk, and was
    // computed at this chunk's position.
    private bool Fits(ChunkRecordHeader? header, ChunkKey key, int position) =>
        header is not null
        && header.Fingerprint.Equals(Keys.Fingerprint)
        && header.Layout.Equals(Layout)
        && header.Key == key
        && header.TokenCount == Keys.ChunkTokens
        && header.FirstPosition == position;

    // llama.cpp stores V transposed unless flash attention is on, which may be decided at context creation ("auto"):
    // evaluate one token and read the orientation from the saved state, once per connector.
    private void EnsureValuesOrientation(LLamaSeqId sequence, int token)
    {
        if (_valuesTransposed is not null)
            return;
        ClearSequence(sequence);
        var batch = new LLamaBatch();
        batch.Add((LLamaToken)token, 0, sequence, false);
        DecodeResult result = Context.Decode(batch);
        if (result != DecodeResult.Ok)
            throw new LLamaDecodeError(result);
        _ = SaveState(sequence);
        ClearSequence(sequence);
    }

    private unsafe byte[] SaveStateBlob(LLamaSeqId sequence)
    {
        ulong size = (ulong)Context.NativeHandle.GetStateSize(sequence);
        if (size > (ulong)Array.MaxLength)
            throw new InvalidOperationException($"The sequence state has {size} bytes, more than one array holds.");
        var blob = new byte[size];
        ulong written;
        // SAFETY: `blob` is pinned for the call; llama.cpp writes at most `size` bytes into it.
        fixed (byte* p = blob)
            written = (ulong)Context.NativeHandle.GetState(p, (nuint)size, sequence);
        if (written != size)
            throw new InvalidOperationException($"llama.cpp wrote {written} bytes of a {size}-byte sequence state.");
        return blob;
    }

    private unsafe void LoadStateBlob(byte[] buffer, int length, LLamaSeqId sequence)
    {
        ulong read;
        // SAFETY: `buffer` is pinned for the call; llama.cpp reads at most `length` bytes, which the buffer holds.
        fixed (byte* p = buffer)
            read = (ulong)Context.NativeHandle.SetState(p, (nuint)length, sequence);
        if (read != (ulong)length)
        {
            ClearSequence(sequence);
            throw new InvalidOperationException($"llama.cpp accepted {read} of {length} bytes of a sequence state built from checked records.");
        }
    }

    // The fp32 rows a load window fills: kept from one load to the next (a new one only for a larger window), so that
    // a steady stream of prefills does not allocate one large array each and wake the GC for it.
    private KvDestination LoadWindow(int tokens)
    {
        if (_loadWindow is not { } window || window.TokenCapacity < tokens)
            _loadWindow = window = KvDestination.Allocate(Layout.Layers, Layout.KvDim, tokens, Keys.ChunkTokens);
        return window;
    }

    // The state blob's buffer, kept likewise: at most the context's KV in the cache's type, which llama.cpp holds too.
    private byte[] StateBuffer(int cells)
    {
        long size = SequenceStateWriter.ByteCount(Layout.Layers, Layout.KvDim, Layout.ElementType, cells);
        if (_stateBuffer is null || _stateBuffer.Length < size)
            _stateBuffer = size > Array.MaxLength ? null : new byte[size];
        return _stateBuffer ?? throw new InvalidOperationException($"A state of {cells} cells is {size} bytes, more than one array holds.");
    }

    private static void CopyRows(ReadOnlySpan<byte> source, Span<byte> destination, int[] cells, int firstPosition, int count, int rowBytes)
    {
        for (int t = 0; t < count; t++)
            source.Slice(cells[firstPosition + t] * rowBytes, rowBytes).CopyTo(destination.Slice(t * rowBytes, rowBytes));
    }

    private void CheckTokens(int count)
    {
        if (count < 1 || count > Context.ContextSize)
            throw new ArgumentException($"A prompt has 1 to {Context.ContextSize} tokens (the context size); got {count}.", "tokens");
    }
}
