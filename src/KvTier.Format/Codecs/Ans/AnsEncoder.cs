using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using KvTier.Layout;

namespace KvTier.Format.Codecs.Ans;

/// <summary>
/// KvTier's <c>ans</c> encoder, exactly as format-spec/kvtier-format.md §9.5 describes it: scales on the level's axis
/// (<see cref="AnsLevels"/>: keys per channel, values per token or per token and head), stored as f16 where every scale
/// rounds up to a finite binary16 and as f32 otherwise; quantization with the stored scales; then the section coded with
/// prediction 0 and 1 and with 1 and kv_heads tables, keeping the shortest payload. Deterministic; stateless and
/// thread-safe (each call rents its own buffers).
/// </summary>
internal static unsafe class AnsEncoder
{
    /// <summary>Encodes one section; see <see cref="ILossyCodec.Encode"/>.</summary>
    /// <exception cref="ArgumentException">A value is not finite, or <paramref name="values"/> has the wrong length.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The level, layer or section shape is out of range.</exception>
    public static byte[] Encode(in SectionContext context, ReadOnlySpan<float> values, int level) =>
        Encode(context, values, level, AnsEncoderChoices.Automatic);

    /// <summary>Encodes one section with some of the encoder's choices fixed (tests, benchmarks).</summary>
    /// <exception cref="ArgumentException">A value is not finite, or <paramref name="values"/> has the wrong length.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The level, layer, section shape or a fixed choice is out of range.</exception>
    internal static byte[] Encode(in SectionContext context, ReadOnlySpan<float> values, int level, AnsEncoderChoices choices)
    {
        KvLayout layout = context.Layout;
        int tokens = context.TokenCount;
        int kvDim = layout.KvDim;
        int n = AnsFormat.CheckedElementCount(context, values.Length);
        int bound = AnsCodec.Bound(level, context.Layer, layout.Layers, context.Kind);
        AnsScaleAxis axis = choices.ScaleAxis ?? AnsCodec.ScaleAxis(level, context.Kind);
        for (int i = 0; i < values.Length; i++)
        {
            if (!float.IsFinite(values[i]))
                throw new ArgumentException($"Element {i} of layer {context.Layer} {context.Kind} is {values[i]}; lossy codecs need finite values.", nameof(values));
        }

        if (choices.Prediction is < 0 or > 1)
            throw new ArgumentOutOfRangeException(nameof(choices), choices.Prediction, "Prediction is 0 or 1.");
        bool predictable = bound <= AnsFormat.MaxPredictedBound;
        if (choices.Prediction == 1 && !predictable)
            throw new ArgumentOutOfRangeException(nameof(choices), bound, $"Prediction needs B ≤ {AnsFormat.MaxPredictedBound}.");
        if (choices.TableGroups is { } fixedGroups && (fixedGroups < 1 || fixedGroups > kvDim || kvDim % fixedGroups != 0 || fixedGroups > ushort.MaxValue))
            throw new ArgumentOutOfRangeException(nameof(choices), fixedGroups, $"Table groups must divide kv_dim = {kvDim}.");
        if (choices.Lanes is < 1 or > AnsFormat.MaxLanes)
            throw new ArgumentOutOfRangeException(nameof(choices), choices.Lanes, $"Lanes are 1 to {AnsFormat.MaxLanes}.");
        if (!Enum.IsDefined(axis))
            throw new ArgumentOutOfRangeException(nameof(choices), axis, "Unknown scale axis.");
        if (choices.ScaleType is { } fixedType && !Enum.IsDefined(fixedType))
            throw new ArgumentOutOfRangeException(nameof(choices), fixedType, "Unknown scale type.");

        // Scales as binary32 (absmax / B), then as stored: quantization must use what the decoder will multiply by.
        int groupWidth = axis == AnsScaleAxis.PerChannel ? 0 : AnsFormat.TokenGroupWidth(axis, layout.HeadDim, kvDim);
        float[] scales = groupWidth == 0 ? ChannelScales(values, kvDim, bound) : TokenGroupScales(values, groupWidth, bound);
        ushort[]? halfScales = StoreAsHalf(scales, choices.ScaleType);
        AnsScaleType scaleType = halfScales is null ? AnsScaleType.Float32 : AnsScaleType.Float16;

        byte[] plain = ArrayPool<byte>.Shared.Rent(n);
        byte[] predicted = ArrayPool<byte>.Shared.Rent(n);
        int lanes = choices.Lanes ?? AnsFormat.EncoderLanes(n);
        var best = new LaneStreams(n, lanes);
        var trial = new LaneStreams(n, lanes);
        try
        {
            Quantize(values, scales, kvDim, groupWidth, bound, plain.AsSpan(0, n), predicted.AsSpan(0, n));

            long bestLength = long.MaxValue;
            int bestPrediction = 0, bestGroups = 0;
            ushort[] bestFrequencies = [];
            ReadOnlySpan<int> groupChoices = choices.TableGroups is { } g ? [g] : layout.KvHeads > 1 ? [1, layout.KvHeads] : [1];
            for (int prediction = choices.Prediction ?? 0; prediction <= (choices.Prediction ?? (predictable ? 1 : 0)); prediction++)
            {
                byte[] symbols = prediction == 0 ? plain : predicted;
                int alphabet = AnsFormat.Alphabet(bound, prediction);
                foreach (int groups in groupChoices)
                {
                    ushort[] frequencies = Frequencies(symbols.AsSpan(0, n), kvDim, groups, alphabet);
                    trial.Encode(symbols.AsSpan(0, n), kvDim, groups, alphabet, frequencies);
                    long length = AnsFormat.HeaderSize + (long)AnsFormat.ScaleSize(scaleType) * scales.Length + 2L * alphabet * groups + (long)AnsFormat.LaneHeaderSize * lanes + 2L * trial.WordCount;
                    if (length < bestLength) // strict: ties keep the earlier candidate (prediction 0 first, then the smaller G)
                    {
                        bestLength = length;
                        bestPrediction = prediction;
                        bestGroups = groups;
                        bestFrequencies = frequencies;
                        (best, trial) = (trial, best);
                    }
                }
            }

            var header = new Header(axis, scaleType, bestPrediction, bound, bestGroups);
            return Assemble(bestLength, header, scales, halfScales, bestFrequencies, best);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(plain);
            ArrayPool<byte>.Shared.Return(predicted);
            best.Dispose();
            trial.Dispose();
        }
    }

    /// <summary>One scale per channel (keys): <c>absmax / B</c> in binary32 over the channel's tokens.</summary>
    private static float[] ChannelScales(ReadOnlySpan<float> values, int kvDim, int bound)
    {
        var absMax = new float[kvDim];
        for (int row = 0; row < values.Length; row += kvDim)
        {
            ReadOnlySpan<float> tokenValues = values.Slice(row, kvDim);
            for (int c = 0; c < kvDim; c++)
                absMax[c] = MathF.Max(absMax[c], MathF.Abs(tokenValues[c]));
        }

        for (int c = 0; c < kvDim; c++)
            absMax[c] /= bound;
        return absMax;
    }

    /// <summary>
    /// One scale per token and group of <paramref name="width"/> channels (values; width head_dim or kv_dim): <c>absmax / B</c>
    /// in binary32 over the group. Group k is channels <c>[(k mod (kv_dim/W))·W, …+W)</c> of token <c>k div (kv_dim/W)</c>,
    /// which is the k-th run of W values in row-major order.
    /// </summary>
    private static float[] TokenGroupScales(ReadOnlySpan<float> values, int width, int bound)
    {
        var scales = new float[values.Length / width];
        for (int k = 0; k < scales.Length; k++)
        {
            ReadOnlySpan<float> group = values.Slice(k * width, width);
            float absMax = 0;
            foreach (float x in group)
                absMax = MathF.Max(absMax, MathF.Abs(x));
            scales[k] = absMax / bound;
        }

        return scales;
    }

    /// <summary>
    /// §9.5's choice of scale type: the bits of every scale rounded up to binary16, with <paramref name="scales"/> replaced by
    /// those values widened back to binary32; or null (f32, <paramref name="scales"/> unchanged) when one of them rounds up
    /// to +∞ or f32 is asked for.
    /// </summary>
    /// <exception cref="ArgumentException">f16 is asked for and a scale does not fit.</exception>
    private static ushort[]? StoreAsHalf(float[] scales, AnsScaleType? required)
    {
        if (required == AnsScaleType.Float32)
            return null;
        var bits = new ushort[scales.Length];
        for (int k = 0; k < scales.Length; k++)
        {
            if (!TryRoundUpToHalf(scales[k], out bits[k]))
            {
                if (required == AnsScaleType.Float16)
                    throw new ArgumentException($"Scale {k} is {scales[k]}, beyond binary16; f16 scales cannot hold it.", nameof(required));
                return null;
            }
        }

        for (int k = 0; k < scales.Length; k++)
            scales[k] = (float)BitConverter.UInt16BitsToHalf(bits[k]);
        return bits;
    }

    /// <summary>
    /// The least binary16 ≥ <paramref name="scale"/> (finite, ≥ 0), as bits; false when that is +∞ (scale above 65504).
    /// Rounding up keeps <c>|x / s16| ≤ |x / s| ≤ B</c>, so no value the scale was made for clips. Exact: the nearest
    /// binary16 is one step from the answer at most, and steps are bit increments (positive binary16 values order as
    /// their bits, subnormals and +∞ included).
    /// </summary>
    internal static bool TryRoundUpToHalf(float scale, out ushort bits)
    {
        bits = BitConverter.HalfToUInt16Bits((Half)scale);
        if ((bits & 0x8000) != 0)
            bits = 0; // −0 (from a −0 input): +0 is the same scale and the least binary16 ≥ it
        while ((float)BitConverter.UInt16BitsToHalf(bits) < scale)
            bits++;
        while (bits > 0 && (float)BitConverter.UInt16BitsToHalf((ushort)(bits - 1)) >= scale)
            bits--;
        return bits < 0x7C00;
    }

    /// <summary>
    /// <c>q = clamp(round_half_even(x / scale), −B, B)</c> (0 where the scale is 0), written as the zigzag symbols of
    /// prediction 0 (<c>q</c>) and of prediction 1 (<c>q[t,c] − q[t−1,c]</c>, row 0 as is). <paramref name="groupWidth"/>
    /// is W for a per-token axis, 0 for per channel.
    /// </summary>
    private static void Quantize(ReadOnlySpan<float> values, float[] scales, int kvDim, int groupWidth, int bound, Span<byte> plain, Span<byte> predicted)
    {
        Span<sbyte> quantized = MemoryMarshal.Cast<byte, sbyte>(plain);
        for (int row = 0; row < values.Length; row += kvDim)
        {
            if (groupWidth == 0)
            {
                QuantizeRun(values.Slice(row, kvDim), scales, quantized.Slice(row, kvDim), bound);
            }
            else
            {
                for (int c = 0, group = row / groupWidth; c < kvDim; c += groupWidth, group++)
                    QuantizeRun(values.Slice(row + c, groupWidth), scales[group], quantized.Slice(row + c, groupWidth), bound);
            }
        }

        // Prediction first (it reads q), then the plain symbols in place. Differences fit a byte only for B ≤ 63.
        if (bound <= AnsFormat.MaxPredictedBound)
        {
            Span<sbyte> difference = MemoryMarshal.Cast<byte, sbyte>(predicted);
            quantized[..kvDim].CopyTo(difference);
            Subtract(quantized[kvDim..], quantized[..^kvDim], difference[kvDim..]);
            ZigZag(difference);
        }

        ZigZag(quantized);
    }

    /// <summary>Quantizes values that each have their own scale.</summary>
    private static void QuantizeRun(ReadOnlySpan<float> values, ReadOnlySpan<float> scales, Span<sbyte> quantized, int bound)
    {
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            for (; i <= values.Length - 32; i += 32)
            {
                Vector256<int> a = Quantize(Vector256.Create(values.Slice(i, 8)), Vector256.Create(scales.Slice(i, 8)), bound);
                Vector256<int> b = Quantize(Vector256.Create(values.Slice(i + 8, 8)), Vector256.Create(scales.Slice(i + 8, 8)), bound);
                Vector256<int> c = Quantize(Vector256.Create(values.Slice(i + 16, 8)), Vector256.Create(scales.Slice(i + 16, 8)), bound);
                Vector256<int> d = Quantize(Vector256.Create(values.Slice(i + 24, 8)), Vector256.Create(scales.Slice(i + 24, 8)), bound);
                Vector256.Narrow(Vector256.Narrow(a, b), Vector256.Narrow(c, d)).CopyTo(quantized[i..]);
            }
        }

        for (; i < values.Length; i++)
            quantized[i] = Quantize(values[i], scales[i], bound);
    }

    /// <summary>Quantizes values that share one scale.</summary>
    private static void QuantizeRun(ReadOnlySpan<float> values, float scale, Span<sbyte> quantized, int bound)
    {
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            Vector256<float> s = Vector256.Create(scale);
            for (; i <= values.Length - 32; i += 32)
            {
                Vector256<int> a = Quantize(Vector256.Create(values.Slice(i, 8)), s, bound);
                Vector256<int> b = Quantize(Vector256.Create(values.Slice(i + 8, 8)), s, bound);
                Vector256<int> c = Quantize(Vector256.Create(values.Slice(i + 16, 8)), s, bound);
                Vector256<int> d = Quantize(Vector256.Create(values.Slice(i + 24, 8)), s, bound);
                Vector256.Narrow(Vector256.Narrow(a, b), Vector256.Narrow(c, d)).CopyTo(quantized[i..]);
            }
        }

        for (; i < values.Length; i++)
            quantized[i] = Quantize(values[i], scale, bound);
    }

    /// <summary>§9.5's quantizer; IEEE division and ties-to-even rounding, as <see cref="Quantize(float, float, int)"/>.</summary>
    private static Vector256<int> Quantize(Vector256<float> x, Vector256<float> scale, int bound)
    {
        Vector256<float> limit = Vector256.Create((float)bound);
        Vector256<float> q = Vector256.Min(Vector256.Max(Vector256.Round(x / scale), -limit), limit);
        return Vector256.AndNot(Vector256.ConvertToInt32(q), Vector256.Equals(scale, Vector256<float>.Zero).AsInt32());
    }

    private static sbyte Quantize(float x, float scale, int bound) =>
        scale == 0 ? (sbyte)0 : (sbyte)Math.Clamp(MathF.Round(x / scale), -bound, (float)bound);

    /// <summary><c>difference = a − b</c>; |a|, |b| ≤ 63, so no overflow.</summary>
    private static void Subtract(ReadOnlySpan<sbyte> a, ReadOnlySpan<sbyte> b, Span<sbyte> difference)
    {
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            for (; i <= a.Length - 32; i += 32)
                (Vector256.Create(a[i..]) - Vector256.Create(b[i..])).CopyTo(difference[i..]);
        }

        for (; i < a.Length; i++)
            difference[i] = (sbyte)(a[i] - b[i]);
    }

    /// <summary>Zigzag symbols in place (§9.2): <c>2v</c> for v ≥ 0, <c>−2v − 1</c> for v &lt; 0; |v| ≤ 126 fits a byte.</summary>
    private static void ZigZag(Span<sbyte> values)
    {
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            for (; i <= values.Length - 32; i += 32)
            {
                Vector256<sbyte> v = Vector256.Create(values[i..]);
                ((v + v) ^ Vector256.LessThan(v, Vector256<sbyte>.Zero)).CopyTo(values[i..]);
            }
        }

        for (; i < values.Length; i++)
            values[i] = (sbyte)(byte)AnsFormat.ToSymbol(values[i]);
    }

    /// <summary>The G frequency tables of §9.5, table-major: <c>max(1, ⌊k[s]·4096 / n_g⌋)</c> per used symbol, the rest to or from the most frequent symbol.</summary>
    internal static ushort[] Frequencies(ReadOnlySpan<byte> symbols, int kvDim, int groups, int alphabet)
    {
        // Four partial histograms: runs of one symbol would otherwise chain every increment through one counter.
        var partial = new int[4 * groups * alphabet];
        int segment = kvDim / groups;
        for (int row = 0; row < symbols.Length; row += kvDim)
        {
            for (int g = 0; g < groups; g++)
            {
                Span<int> counts = partial.AsSpan(4 * g * alphabet, 4 * alphabet);
                ReadOnlySpan<byte> run = symbols.Slice(row + g * segment, segment);
                int i = 0;
                for (; i <= run.Length - 4; i += 4)
                {
                    counts[run[i]]++;
                    counts[alphabet + run[i + 1]]++;
                    counts[2 * alphabet + run[i + 2]]++;
                    counts[3 * alphabet + run[i + 3]]++;
                }

                for (; i < run.Length; i++)
                    counts[run[i]]++;
            }
        }

        var tableCounts = new int[groups * alphabet];
        for (int g = 0; g < groups; g++)
        {
            for (int s = 0; s < alphabet; s++)
            {
                int at = 4 * g * alphabet + s;
                tableCounts[g * alphabet + s] = partial[at] + partial[at + alphabet] + partial[at + 2 * alphabet] + partial[at + 3 * alphabet];
            }
        }

        var frequencies = new ushort[groups * alphabet];
        for (int g = 0; g < groups; g++)
            Normalize(tableCounts.AsSpan(g * alphabet, alphabet), frequencies.AsSpan(g * alphabet, alphabet));
        return frequencies;
    }

    /// <summary>
    /// Normalizes one table's counts to frequencies summing to 4096 (§9.5). <c>n_g</c> is the number of elements coded
    /// with this table; "most frequent" is the largest count, lowest symbol on ties.
    /// </summary>
    internal static void Normalize(ReadOnlySpan<int> counts, Span<ushort> frequencies)
    {
        long total = 0;
        foreach (int k in counts)
            total += k;
        int sum = 0;
        int top = -1;
        for (int s = 0; s < counts.Length; s++)
        {
            if (counts[s] == 0)
            {
                frequencies[s] = 0;
                continue;
            }

            int f = (int)Math.Max(1, counts[s] * (long)AnsFormat.ProbabilityScale / total);
            frequencies[s] = (ushort)f;
            sum += f;
            if (top < 0 || counts[s] > counts[top])
                top = s;
        }

        int difference = AnsFormat.ProbabilityScale - sum;
        if (frequencies[top] + difference >= 1)
        {
            frequencies[top] = (ushort)(frequencies[top] + difference);
            return;
        }

        TakeExcessFromSeveral(counts, frequencies, -difference);
    }

    /// <summary>
    /// The case §9.5 leaves open: the excess over 4096 is more than the most frequent symbol can give while keeping 1.
    /// It happens only with many rare symbols next to a flat distribution (for example 195 symbols of 21/4096 each and 58
    /// of one occurrence). The excess is then taken from symbols by decreasing count (lowest symbol on ties), each
    /// keeping at least 1; this gives the spec's result whenever the spec's rule is satisfiable.
    /// </summary>
    private static void TakeExcessFromSeveral(ReadOnlySpan<int> counts, Span<ushort> frequencies, int excess)
    {
        var byCount = new List<int>(counts.Length);
        for (int s = 0; s < counts.Length; s++)
        {
            if (counts[s] > 0)
                byCount.Add(s);
        }

        int[] countsCopy = counts.ToArray();
        byCount.Sort((a, b) => countsCopy[a] != countsCopy[b] ? countsCopy[b].CompareTo(countsCopy[a]) : a.CompareTo(b));
        foreach (int s in byCount)
        {
            int take = Math.Min(excess, frequencies[s] - 1);
            frequencies[s] = (ushort)(frequencies[s] - take);
            excess -= take;
            if (excess == 0)
                return;
        }

        throw new InvalidOperationException("Frequency normalization could not reach 4096; more used symbols than slots.");
    }

    /// <summary>The chosen header fields of a payload (§9.1), lanes aside.</summary>
    private readonly record struct Header(AnsScaleAxis ScaleAxis, AnsScaleType ScaleType, int Prediction, int Bound, int Groups);

    /// <summary>Writes the payload of §9.1; reserved bytes stay 0. <paramref name="halfScales"/> holds the f16 scales' bits when the type is f16.</summary>
    private static byte[] Assemble(long length, Header header, float[] scales, ushort[]? halfScales, ushort[] frequencies, LaneStreams lanes)
    {
        var payload = new byte[length];
        Span<byte> span = payload;
        span[0] = AnsFormat.LayoutVersion;
        span[1] = (byte)header.ScaleAxis;
        span[2] = (byte)header.ScaleType;
        span[3] = (byte)header.Prediction;
        span[4] = (byte)header.Bound;
        BinaryPrimitives.WriteUInt16LittleEndian(span[6..], (ushort)lanes.Lanes);
        BinaryPrimitives.WriteUInt16LittleEndian(span[8..], (ushort)header.Groups);
        int at = AnsFormat.HeaderSize;
        if (halfScales is not null)
        {
            foreach (ushort bits in halfScales)
            {
                BinaryPrimitives.WriteUInt16LittleEndian(span[at..], bits);
                at += 2;
            }
        }
        else
        {
            foreach (float scale in scales)
            {
                BinaryPrimitives.WriteSingleLittleEndian(span[at..], scale);
                at += 4;
            }
        }

        foreach (ushort f in frequencies)
        {
            BinaryPrimitives.WriteUInt16LittleEndian(span[at..], f);
            at += 2;
        }

        for (int j = 0; j < lanes.Lanes; j++)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(span[at..], lanes.State(j));
            BinaryPrimitives.WriteUInt32LittleEndian(span[(at + 4)..], (uint)lanes.Words(j).Length);
            at += AnsFormat.LaneHeaderSize;
        }

        for (int j = 0; j < lanes.Lanes; j++)
        {
            ReadOnlySpan<ushort> words = lanes.Words(j);
            Span<byte> destination = span.Slice(at, 2 * words.Length);
            if (BitConverter.IsLittleEndian)
                MemoryMarshal.AsBytes(words).CopyTo(destination);
            else
                BinaryPrimitives.ReverseEndianness(words, MemoryMarshal.Cast<byte, ushort>(destination));
            at += destination.Length;
        }

        return payload;
    }

    /// <summary>
    /// The rANS lane streams of one candidate coding (§9.5): every lane runs over its symbols in reverse, from state 2^16,
    /// emitting a word whenever <c>x ≥ freq·2^20</c>. Lane j's words are written backwards from the end of its region
    /// of a shared buffer (a lane never emits more words than it has symbols), so they come out in decoding order.
    /// </summary>
    private sealed class LaneStreams : IDisposable
    {
        private readonly ushort[] _buffer;
        private readonly int[] _regionEnd;
        private readonly int[] _first;
        private readonly uint[] _states;

        public LaneStreams(int elements, int lanes)
        {
            _buffer = ArrayPool<ushort>.Shared.Rent(elements);
            _regionEnd = new int[lanes];
            _first = new int[lanes];
            _states = new uint[lanes];
            Lanes = lanes;
        }

        public int Lanes { get; }

        public long WordCount { get; private set; }

        public uint State(int lane) => _states[lane];

        public ReadOnlySpan<ushort> Words(int lane) => _buffer.AsSpan(_first[lane], _regionEnd[lane] - _first[lane]);

        public void Encode(ReadOnlySpan<byte> symbols, int kvDim, int groups, int alphabet, ushort[] frequencies)
        {
            int n = symbols.Length;
            int lanes = Lanes;

            // Per table and symbol: what one encode step needs (see SymbolCoder), and a per-channel offset into them.
            var coders = new SymbolCoder[groups * alphabet];
            for (int g = 0; g < groups; g++)
            {
                uint cum = 0;
                for (int s = 0; s < alphabet; s++)
                {
                    uint f = frequencies[g * alphabet + s];
                    coders[g * alphabet + s] = new SymbolCoder(f, cum);
                    cum += f;
                }
            }

            var channelBase = new int[kvDim];
            int segment = kvDim / groups;
            for (int c = 0; c < kvDim; c++)
                channelBase[c] = c / segment * alphabet;

            int end = 0;
            for (int j = 0; j < lanes; j++)
            {
                end += AnsFormat.LaneSymbols(n, lanes, j);
                _regionEnd[j] = end;
                _first[j] = end;
                _states[j] = AnsFormat.StateLow;
            }

            // SAFETY: the arrays are pinned for the loop. Indices: symbols and channels by construction; coder index
            // = channel base + symbol < G·A (symbols come from the quantizer, below A); buffer index at − 1 ≥ the lane's
            // region start (see below) and < n.
            fixed (SymbolCoder* coderTable = coders)
            fixed (int* channelTable = channelBase)
            fixed (byte* symbolPointer = symbols)
            fixed (ushort* buffer = _buffer)
            fixed (uint* states = _states)
            fixed (int* first = _first)
            {
                int lane = (n - 1) % lanes;
                int channel = (n - 1) % kvDim;
                for (int i = n - 1; i >= 0; i--)
                {
                    SymbolCoder* coder = coderTable + channelTable[channel] + symbolPointer[i];
                    uint x = states[lane];

                    // Emit when x ≥ f·2^20 (written so that f = 4096 does not overflow), without a branch: the word is
                    // stored either way, one below the lane's last word, where its next word would go (a lane has emitted
                    // fewer words than the symbols it has coded, so that slot is inside its region).
                    int at = first[lane];
                    buffer[at - 1] = (ushort)x;
                    uint emit = ((uint)((int)(x >> 20) - (int)coder->Frequency) >> 31) ^ 1;
                    first[lane] = at - (int)emit;
                    x >>= (int)(emit << 4);

                    uint quotient = coder->Divide(x);
                    states[lane] = (quotient << AnsFormat.ProbabilityBits) + (x - quotient * coder->Frequency) + coder->Start;
                    lane = lane == 0 ? lanes - 1 : lane - 1;
                    channel = channel == 0 ? kvDim - 1 : channel - 1;
                }
            }

            long words = 0;
            for (int j = 0; j < lanes; j++)
                words += _regionEnd[j] - _first[j];
            WordCount = words;
        }

        public void Dispose() => ArrayPool<ushort>.Shared.Return(_buffer);
    }

    /// <summary>
    /// One symbol's encode parameters: frequency, cumulative frequency, and a reciprocal for exact division of a 32-bit
    /// state by the frequency: <c>⌊x / f⌋ = ⌊x·c / 2^64⌋</c> with <c>c = ⌊(2^64 − 1) / f⌋ + 1</c> for every x &lt; 2^32
    /// (Lemire, Kaser, Kurz, "Faster remainder by direct computation", 2019). c does not fit 64 bits for f = 1, where
    /// the quotient is x itself.
    /// </summary>
    private readonly struct SymbolCoder(uint frequency, uint start)
    {
        private readonly ulong _reciprocal = frequency > 1 ? ulong.MaxValue / frequency + 1 : 0;
        private readonly uint _identity = frequency == 1 ? uint.MaxValue : 0;

        public uint Frequency { get; } = frequency;

        public uint Start { get; } = start;

        [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
        public uint Divide(uint x) => (uint)Math.BigMul(_reciprocal, x, out _) + (x & _identity);
    }
}
