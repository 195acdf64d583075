using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using KvTier.Layout;

namespace KvTier.Format.Codecs.Ans;

/// <summary>
/// The <c>ans</c> decoder (format-spec/kvtier-format.md §9.1–§9.4). It validates the whole payload layout first
/// (<see cref="AnsPayloadLayout.Parse"/>), builds one 4096-entry slot lookup per table, widens f16 scales to f32, then
/// decodes:
/// <list type="bullet">
/// <item>with AVX2 and N = 8, 16 or 32 (what KvTier's encoder writes): eight lanes per step with states in registers,
/// dequantizing straight into the output (AnsDecoder.Fused.cs);</item>
/// <item>otherwise in blocks of whole rows: the lanes' streams interleaved in element order (independent lanes overlap
/// in the CPU; eight per AVX2 step when N is a multiple of 8) into a block of zigzag values, then prediction, range
/// check and dequantization over the block with SIMD;</item>
/// <item>when G lookups would cost more than the section, a checked scalar loop with a binary search per symbol.</item>
/// </list>
/// Scale axes 2 and 3 are one case everywhere: a scale per token and group of W channels (W = head_dim or kv_dim).
/// The fast paths detect a fault (a lane reading past its stream, q out of range) and leave locating it to the checked
/// path. Stateless and thread-safe: every call works on its own (pooled) buffers.
/// <para>
/// Every method with a per-section loop is <see cref="MethodImplOptions.AggressiveOptimization"/>: with tiered
/// compilation a loop method otherwise starts as tier-0 code with on-stack replacement, and only reaches fully
/// optimized code after some 30 calls and a background recompile. The OSR code of the fused kernel runs at half speed
/// (about 5e8 instead of 1e9 elements/s on an 8B-class section), which is what a short-lived process, or any process
/// for its first sections, would see.
/// </para>
/// </summary>
internal static unsafe partial class AnsDecoder
{
    /// <summary>Elements decoded per block (at least one row): the block's values stay in L1 between the two passes.</summary>
    private const int BlockElements = 4096;

    /// <summary>
    /// A slot lookup costs 4096 entries per table to build and 16 KiB per table to hold; it is used while that stays
    /// within a few times the section itself, which covers every G our encoder writes on real chunks.
    /// </summary>
    private static bool LookupPays(int groups, int elements) => (long)groups * AnsFormat.ProbabilityScale <= 4L * elements + 65536;

    /// <summary>Decodes one section; see <see cref="ILossyCodec.Decode"/>.</summary>
    public static void Decode(in SectionContext context, ReadOnlySpan<byte> payload, Span<float> values, AnsDecodePath path = AnsDecodePath.Auto)
    {
        KvLayout layout = context.Layout;
        int tokens = context.TokenCount;
        int kvDim = layout.KvDim;
        int n = AnsFormat.CheckedElementCount(context, values.Length);

        AnsPayloadLayout fields = AnsPayloadLayout.Parse(context, payload);
        if (path == AnsDecodePath.Auto)
            path = !LookupPays(fields.TableGroups, n) ? AnsDecodePath.Search : AnsDecodePath.Vector;
        if (path == AnsDecodePath.Vector && !(Avx2.IsSupported && fields.Lanes % 8 == 0 && kvDim % 8 == 0))
            path = AnsDecodePath.Scalar;

        if (!DecodeWith(context, payload, fields, path, values))
        {
            // The fast path saw a fault without locating it; the checked path finds it and throws.
            DecodeWith(context, payload, fields, AnsDecodePath.Search, values);
            throw context.BadPayload("ans payload is inconsistent.", 0);
        }
    }

    private static bool DecodeWith(in SectionContext context, ReadOnlySpan<byte> payload, in AnsPayloadLayout fields, AnsDecodePath path, Span<float> values)
    {
        var decoder = new SectionDecoder(context, payload, fields, path);
        try
        {
            return decoder.Run(payload, values);
        }
        finally
        {
            decoder.Dispose();
        }
    }

    /// <summary>The buffers and lane cursors of one decode call.</summary>
    private ref struct SectionDecoder
    {
        private readonly SectionContext _context;
        private readonly AnsPayloadLayout _fields;
        private readonly AnsDecodePath _path;
        private readonly int _tokens;
        private readonly int _kvDim;
        private readonly int _groupWidth;       // per-token axes: W, the channels that share a scale; per channel: 0
        private readonly int _groupsPerToken;   // per-token axes: kv_dim / W scales per token
        private readonly int _rowsPerBlock;
        private readonly bool _fused;

        // Rented arrays; Dispose returns them.
        private uint[]? _lookup;        // G·4096 packed slot entries (Scalar, Vector)
        private int[]? _cumulative;     // G·(A+1) cumulative frequencies (Search)
        private int[]? _channelTable;   // per channel: offset of its table in _lookup or _cumulative; null when G = 1
        private ushort[]? _words;       // the lane streams, then zero padding that a lane overrunning its stream within one block reads
        private int[]? _block;          // block paths: one block's zigzag values, then its quantized values
        private int[]? _previous;       // prediction 1: the previous row's quantized values
        private float[]? _widenedScales; // scales as f32: f16 scales widened, or f32 scales on big-endian hosts
        private int[]? _channelGroup;   // fused path, per-token axes: c div W for each channel c
        private uint[]? _laneState;
        private int[]? _lanePosition;   // index of the lane's next word in _words
        private int[]? _laneEnd;        // index just past the lane's last word

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public SectionDecoder(in SectionContext context, ReadOnlySpan<byte> payload, in AnsPayloadLayout fields, AnsDecodePath path)
        {
            _context = context;
            _fields = fields;
            _path = path;
            _tokens = context.TokenCount;
            _kvDim = context.Layout.KvDim;
            _groupWidth = fields.ScaleAxis == AnsScaleAxis.PerChannel ? 0 : AnsFormat.TokenGroupWidth(fields.ScaleAxis, context.Layout.HeadDim, _kvDim);
            _groupsPerToken = _groupWidth == 0 ? 0 : _kvDim / _groupWidth;
            _rowsPerBlock = Math.Max(1, Math.Min(_tokens, BlockElements / _kvDim));
            _fused = path == AnsDecodePath.Vector && FusedApplies(fields.Lanes, _kvDim, _groupWidth);

            // Every size below is bounded by the validated payload (W, G·A, N) or by the section (kv_dim, block).
            int lanes = fields.Lanes;
            _laneState = ArrayPool<uint>.Shared.Rent(lanes);
            _lanePosition = ArrayPool<int>.Shared.Rent(lanes);
            _laneEnd = ArrayPool<int>.Shared.Rent(lanes);
            int next = 0;
            for (int j = 0; j < lanes; j++)
            {
                _laneState[j] = fields.LaneState(payload, j);
                _lanePosition[j] = next;
                next += fields.LaneWordCount(payload, j);
                _laneEnd[j] = next;
            }

            int blockElements = _rowsPerBlock * _kvDim;
            // A lane takes at most one word per symbol, and positions are checked after every block (at most
            // blockElements / N symbols a lane) or, on the fused path, every RoundsPerCheck rounds; the 32-bit gathers
            // read one word further.
            int padding = Math.Max(blockElements / lanes, RoundsPerCheck) + 4;
            _words = ArrayPool<ushort>.Shared.Rent(fields.WordCount + padding);
            Span<ushort> words = _words.AsSpan(0, fields.WordCount + padding);
            ReadOnlySpan<ushort> stored = MemoryMarshal.Cast<byte, ushort>(payload.Slice(fields.StreamsOffset, 2 * fields.WordCount));
            if (BitConverter.IsLittleEndian)
                stored.CopyTo(words);
            else
                BinaryPrimitives.ReverseEndianness(stored, words);
            words[fields.WordCount..].Clear();

            if (!_fused)
            {
                _block = ArrayPool<int>.Shared.Rent(blockElements);
            }
            else if (_groupWidth != 0)
            {
                _channelGroup = ArrayPool<int>.Shared.Rent(_kvDim);
                for (int c = 0; c < _kvDim; c++)
                    _channelGroup[c] = c / _groupWidth;
            }

            if (fields.Prediction == 1)
            {
                _previous = ArrayPool<int>.Shared.Rent(_kvDim);
                _previous.AsSpan(0, _kvDim).Clear();
            }

            if (fields.ScaleType == AnsScaleType.Float16 || !BitConverter.IsLittleEndian)
            {
                // S conversions against the section's S·W elements (W ≥ 1, usually ≥ 8): a small share of the decode.
                _widenedScales = ArrayPool<float>.Shared.Rent(fields.ScaleCount);
                for (int k = 0; k < fields.ScaleCount; k++)
                    _widenedScales[k] = fields.Scale(payload, k);
            }

            int groups = fields.TableGroups;
            int alphabet = fields.Alphabet;
            int tableSize = path == AnsDecodePath.Search ? alphabet + 1 : AnsFormat.ProbabilityScale;
            if (groups > 1)
            {
                _channelTable = ArrayPool<int>.Shared.Rent(_kvDim);
                int segment = _kvDim / groups;
                for (int c = 0; c < _kvDim; c++)
                    _channelTable[c] = c / segment * tableSize;
            }

            if (path == AnsDecodePath.Search)
            {
                _cumulative = ArrayPool<int>.Shared.Rent(groups * tableSize);
                for (int g = 0; g < groups; g++)
                {
                    int sum = 0;
                    for (int s = 0; s < alphabet; s++)
                    {
                        _cumulative[g * tableSize + s] = sum;
                        sum += fields.Frequency(payload, g, s);
                    }

                    _cumulative[g * tableSize + alphabet] = sum;
                }
            }
            else
            {
                _lookup = ArrayPool<uint>.Shared.Rent(groups * tableSize);
                for (int g = 0; g < groups; g++)
                    BuildLookup(payload, fields, g, _lookup.AsSpan(g * tableSize, tableSize));
            }
        }

        /// <summary>
        /// Fills one table's slot lookup. Entry bits: 31–24 the symbol's zigzag value (signed), 23–12 <c>freq − 1</c>,
        /// 11–0 <c>slot − cum</c>; so a decode step is <c>x ← (freq−1)·(x≫12) + (x≫12) + (slot−cum)</c> with one load.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private static void BuildLookup(ReadOnlySpan<byte> payload, in AnsPayloadLayout fields, int group, Span<uint> lookup)
        {
            int slot = 0;
            for (int s = 0; s < fields.Alphabet; s++)
            {
                int frequency = fields.Frequency(payload, group, s);
                if (frequency == 0)
                    continue;
                uint high = ((uint)AnsFormat.ToValue(s) << 24) | ((uint)(frequency - 1) << 12);
                Span<uint> slots = lookup.Slice(slot, frequency);
                for (int k = 0; k < slots.Length; k++)
                    slots[k] = high | (uint)k;
                slot += frequency;
            }
        }

        /// <summary>Decodes the section into <paramref name="values"/>; false when the fused path saw a fault it does not locate.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public readonly bool Run(ReadOnlySpan<byte> payload, Span<float> values)
        {
            ReadOnlySpan<float> scales = _widenedScales is not null
                ? _widenedScales.AsSpan(0, _fields.ScaleCount)
                : MemoryMarshal.Cast<byte, float>(payload.Slice(_fields.ScalesOffset, 4 * _fields.ScaleCount));
            int lanes = _fields.Lanes;

            // SAFETY: every array is rented by this decoder and pinned for the whole loop; the spans (payload scales,
            // destination) are pinned by the fixed statements. Indices stay inside them: lookup indices are a table
            // offset + (x mod 4096); a lane reads at most one word per symbol (plus one for the 32-bit gathers) beyond
            // its position, positions are checked after every block or RoundsPerCheck rounds, and the zero padding
            // behind the last stream is longer than what a lane can read between two checks.
            fixed (uint* lookup = _lookup)
            fixed (int* cumulative = _cumulative)
            fixed (int* channelTable = _channelTable)
            fixed (ushort* words = _words)
            fixed (int* block = _block)
            fixed (int* previous = _previous)
            fixed (uint* states = _laneState)
            fixed (int* positions = _lanePosition)
            fixed (int* ends = _laneEnd)
            fixed (float* scalePointer = scales)
            fixed (float* output = values)
            fixed (int* channelGroup = _channelGroup)
            {
                if (_fused)
                {
                    var kernel = new FusedKernel
                    {
                        Lookup = lookup,
                        ChannelTable = channelTable,
                        Words = words,
                        States = states,
                        Positions = positions,
                        Ends = ends,
                        Previous = previous,
                        Scales = scalePointer,
                        ChannelGroup = channelGroup,
                        Output = output,
                        Rounds = (long)_tokens * _kvDim / lanes,
                        KvDim = _kvDim,
                        GroupsPerToken = _groupsPerToken,
                        Bound = _fields.Bound,
                    };
                    if (!DecodeFused(ref kernel, lanes, previous is not null, _groupWidth == 0))
                        return false;
                    if (!DecodeTail(kernel.Rounds * lanes, lookup, channelTable, words, states, positions, previous, scalePointer, output))
                        return false;
                    for (int j = 0; j < lanes; j++)
                    {
                        if (positions[j] > ends[j])
                            return false;
                    }

                    CheckLaneEnds(states, positions, ends);
                    return true;
                }

                for (int t0 = 0; t0 < _tokens; t0 += _rowsPerBlock)
                {
                    int rows = Math.Min(_rowsPerBlock, _tokens - t0);
                    long first = (long)t0 * _kvDim;
                    int count = rows * _kvDim;
                    switch (_path)
                    {
                        case AnsDecodePath.Vector:
                            DecodeVectorBlock(lookup, channelTable, words, states, positions, lanes, _kvDim, first, count, block);
                            break;
                        case AnsDecodePath.Search:
                            int failed = DecodeSearch(cumulative, channelTable, _fields.Alphabet, words, states, positions, ends, lanes, _kvDim, first, count, block);
                            if (failed >= 0)
                                throw RefillPastEnd(failed);
                            break;
                        default:
                            if (channelTable is null)
                                DecodeScalarOneTable(lookup, words, states, positions, lanes, first, count, block);
                            else
                                DecodeScalar(lookup, channelTable, words, states, positions, lanes, _kvDim, first, count, block);
                            break;
                    }

                    for (int j = 0; j < lanes; j++)
                    {
                        if (positions[j] > ends[j])
                            throw RefillPastEnd(j);
                    }

                    DequantizeBlock(block, previous, scalePointer, output + first, t0, rows);
                }

                CheckLaneEnds(states, positions, ends);
                return true;
            }
        }

        /// <summary>After the last symbol every lane MUST be back in state 2^16 with all its words consumed (§9.2).</summary>
        private readonly void CheckLaneEnds(uint* states, int* positions, int* ends)
        {
            for (int j = 0; j < _fields.Lanes; j++)
            {
                if (states[j] != AnsFormat.StateLow)
                    throw _context.BadPayload($"ans lane {j} ends in state {states[j]}, not 2^16.", LaneHeaderOffset(j));
                if (positions[j] != ends[j])
                    throw _context.BadPayload($"ans lane {j} leaves {ends[j] - positions[j]} of its words unread.", _fields.StreamsOffset + 2L * positions[j]);
            }
        }

        /// <summary>
        /// The elements after the fused path's whole rounds (fewer than N, in the last rows): one scalar step and one
        /// dequantization each. False when a predicted q leaves [−B, B].
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private readonly bool DecodeTail(long first, uint* lookup, int* channelTable, ushort* words, uint* states, int* positions, int* previous, float* scales, float* output)
        {
            long n = (long)_tokens * _kvDim;
            for (long i = first; i < n; i++)
            {
                int lane = (int)(i % _fields.Lanes);
                int channel = (int)(i % _kvDim);
                long token = i / _kvDim;
                int q = Step(channelTable is null ? lookup : lookup + channelTable[channel], words, states + lane, positions + lane);
                if (previous is not null)
                {
                    q += previous[channel];
                    previous[channel] = q;
                    if (Math.Abs(q) > _fields.Bound)
                        return false;
                }

                float scale = _groupWidth == 0 ? scales[channel] : scales[token * _groupsPerToken + channel / _groupWidth];
                output[i] = q * scale;
            }

            return true;
        }

        /// <summary>Returns every rented array to its pool.</summary>
        public void Dispose()
        {
            Return(ref _lookup);
            Return(ref _cumulative);
            Return(ref _channelTable);
            Return(ref _words);
            Return(ref _block);
            Return(ref _previous);
            Return(ref _widenedScales);
            Return(ref _channelGroup);
            Return(ref _laneState);
            Return(ref _lanePosition);
            Return(ref _laneEnd);
        }

        private static void Return<T>(ref T[]? array)
        {
            if (array is not null)
                ArrayPool<T>.Shared.Return(array);
            array = null;
        }

        private readonly long LaneHeaderOffset(int lane) => _fields.LaneHeadersOffset + (long)AnsFormat.LaneHeaderSize * lane;

        private readonly ChunkRecordException RefillPastEnd(int lane) =>
            _context.BadPayload($"ans lane {lane} needs a word after the last of its word_count words.", _fields.StreamsOffset + 2L * _laneEnd![lane]);

        /// <summary>
        /// Prediction (§9.3), range check and dequantization (§9.4) of decoded rows <c>[t0, t0 + rows)</c>:
        /// the block holds zigzag values on entry.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private readonly void DequantizeBlock(int* block, int* previous, float* scales, float* output, int t0, int rows)
        {
            int kvDim = _kvDim;
            for (int r = 0; r < rows; r++)
            {
                int* quantized = block + r * kvDim;
                if (previous is not null)
                {
                    if (!AccumulateRow(quantized, previous, kvDim, _fields.Bound))
                        throw OutOfRange(previous, t0 + r);
                    quantized = previous;
                }

                float* row = output + (long)r * kvDim;
                if (_groupWidth == 0)
                {
                    ScaleRow(quantized, scales, row, kvDim);
                }
                else
                {
                    float* tokenScales = scales + (long)(t0 + r) * _groupsPerToken;
                    for (int g = 0; g < _groupsPerToken; g++)
                        ScaleRow(quantized + g * _groupWidth, tokenScales[g], row + g * _groupWidth, _groupWidth);
                }
            }
        }

        private readonly ChunkRecordException OutOfRange(int* quantized, int token)
        {
            int channel = 0;
            while (Math.Abs(quantized[channel]) <= _fields.Bound)
                channel++;
            long element = (long)token * _kvDim + channel;
            int lane = (int)(element % _fields.Lanes);
            return _context.BadPayload(
                $"ans prediction gives q = {quantized[channel]} at token {token}, channel {channel} (lane {lane}); q lies in [-{_fields.Bound}, {_fields.Bound}].",
                LaneHeaderOffset(lane));
        }
    }

    /// <summary>
    /// One rANS decode step of §9.2 through a slot lookup entry (see <see cref="SectionDecoder"/>'s BuildLookup). The
    /// refill is arithmetic, not a branch: whether a lane refills is data, and mispredicting it would cost more than the
    /// step. The word at the lane's position is read either way (the stream's padding keeps that read in bounds).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Step(uint* lookup, ushort* words, uint* state, int* position)
    {
        uint x = *state;
        uint entry = lookup[x & 0xFFF];
        uint high = x >> 12;
        x = ((entry >> 12) & 0xFFF) * high + (high + (entry & 0xFFF));
        int p = *position;
        uint refill = (uint)((int)((x >> 16) - 1) >> 31); // all ones when x < 2^16 (x ≥ 16 always)
        *state = (x << (int)(refill & 16)) | (words[p] & refill);
        *position = p - (int)refill;
        return (int)entry >> 24;
    }

    /// <summary>Scalar decode of elements <c>[first, first + count)</c> with a single table: lanes interleaved in element order.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void DecodeScalarOneTable(uint* lookup, ushort* words, uint* states, int* positions, int lanes, long first, int count, int* output)
    {
        int lane = (int)(first % lanes);
        int k = 0;
        if (lanes % 4 == 0 && lane % 4 == 0)
        {
            // Four lanes per iteration: four independent chains for the CPU to overlap, a quarter of the loop overhead.
            for (; k <= count - 4; k += 4)
            {
                output[k] = Step(lookup, words, states + lane, positions + lane);
                output[k + 1] = Step(lookup, words, states + lane + 1, positions + lane + 1);
                output[k + 2] = Step(lookup, words, states + lane + 2, positions + lane + 2);
                output[k + 3] = Step(lookup, words, states + lane + 3, positions + lane + 3);
                if ((lane += 4) == lanes)
                    lane = 0;
            }
        }

        for (; k < count; k++)
        {
            output[k] = Step(lookup, words, states + lane, positions + lane);
            if (++lane == lanes)
                lane = 0;
        }
    }

    /// <summary>Scalar decode of elements <c>[first, first + count)</c>, each channel through its own table.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void DecodeScalar(uint* lookup, int* channelTable, ushort* words, uint* states, int* positions, int lanes, int kvDim, long first, int count, int* output)
    {
        int lane = (int)(first % lanes);
        int channel = (int)(first % kvDim);
        int k = 0;
        if (lanes % 4 == 0 && lane % 4 == 0 && kvDim % 4 == 0 && channel % 4 == 0)
        {
            for (; k <= count - 4; k += 4)
            {
                output[k] = Step(lookup + channelTable[channel], words, states + lane, positions + lane);
                output[k + 1] = Step(lookup + channelTable[channel + 1], words, states + lane + 1, positions + lane + 1);
                output[k + 2] = Step(lookup + channelTable[channel + 2], words, states + lane + 2, positions + lane + 2);
                output[k + 3] = Step(lookup + channelTable[channel + 3], words, states + lane + 3, positions + lane + 3);
                if ((lane += 4) == lanes)
                    lane = 0;
                if ((channel += 4) == kvDim)
                    channel = 0;
            }
        }

        for (; k < count; k++)
        {
            output[k] = Step(lookup + channelTable[channel], words, states + lane, positions + lane);
            if (++lane == lanes)
                lane = 0;
            if (++channel == kvDim)
                channel = 0;
        }
    }

    /// <summary>
    /// AVX2 decode of elements <c>[first, first + count)</c>, eight lanes per step: element <c>i</c> (a multiple of 8) and
    /// the seven after it belong to lanes <c>i mod N … +7</c> because N is a multiple of 8. Two gathers per step: the slot
    /// entries and each lane's next word (loaded for every lane, used where the state fell below 2^16).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void DecodeVectorBlock(uint* lookup, int* channelTable, ushort* words, uint* states, int* positions, int lanes, int kvDim, long first, int count, int* output)
    {
        int lane = (int)(first % lanes);
        int channel = (int)(first % kvDim);
        Vector256<uint> low12 = Vector256.Create(0xFFFu);
        Vector256<uint> low16 = Vector256.Create(0xFFFFu);
        for (int k = 0; k < count; k += 8)
        {
            Vector256<uint> x = Avx.LoadVector256(states + lane);
            Vector256<int> p = Avx.LoadVector256(positions + lane);
            Vector256<int> index = (x & low12).AsInt32();
            if (channelTable is not null)
                index += Avx.LoadVector256(channelTable + channel);
            Vector256<uint> entry = Avx2.GatherVector256((int*)lookup, index, 4).AsUInt32();
            Vector256<uint> word = Avx2.GatherVector256((int*)words, p, 2).AsUInt32() & low16;
            Vector256<uint> high = x >>> 12;
            x = Avx2.MultiplyLow((entry >>> 12) & low12, high) + high + (entry & low12);
            Vector256<uint> refill = Vector256.Equals(x >>> 16, Vector256<uint>.Zero);
            x = Avx2.BlendVariable(x, (x << 16) | word, refill);
            Avx.Store(states + lane, x);
            Avx.Store(positions + lane, p - refill.AsInt32());
            Avx.Store(output + k, Avx2.ShiftRightArithmetic(entry.AsInt32(), 24));
            lane += 8;
            if (lane == lanes)
                lane = 0;
            channel += 8;
            if (channel == kvDim)
                channel = 0;
        }
    }

    /// <summary>
    /// Checked scalar decode without a slot lookup: the symbol of a slot is found by binary search over the table's
    /// cumulative frequencies. Returns the lane that needed a word past its stream, or −1.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int DecodeSearch(int* cumulative, int* channelTable, int alphabet, ushort* words, uint* states, int* positions, int* ends, int lanes, int kvDim, long first, int count, int* output)
    {
        int lane = (int)(first % lanes);
        int channel = (int)(first % kvDim);
        for (int k = 0; k < count; k++)
        {
            int* cum = channelTable is null ? cumulative : cumulative + channelTable[channel];
            uint x = states[lane];
            int slot = (int)(x & 0xFFF);
            int low = 0, high = alphabet; // cum[low] ≤ slot < cum[high]
            while (high - low > 1)
            {
                int middle = (low + high) >> 1;
                if (cum[middle] <= slot)
                    low = middle;
                else
                    high = middle;
            }

            x = (uint)(cum[low + 1] - cum[low]) * (x >> 12) + (uint)(slot - cum[low]);
            if (x < AnsFormat.StateLow)
            {
                if (positions[lane] == ends[lane])
                    return lane;
                x = (x << 16) | words[positions[lane]++];
            }

            states[lane] = x;
            output[k] = AnsFormat.ToValue(low);
            if (++lane == lanes)
                lane = 0;
            if (++channel == kvDim)
                channel = 0;
        }

        return -1;
    }

    /// <summary><c>previous[c] += zigzag[c]</c> (§9.3); false when a result leaves [−B, B].</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static bool AccumulateRow(int* values, int* previous, int length, int bound)
    {
        int c = 0;
        bool outside = false;
        if (Vector256.IsHardwareAccelerated)
        {
            Vector256<int> limit = Vector256.Create(bound);
            Vector256<int> beyond = Vector256<int>.Zero;
            for (; c <= length - 8; c += 8)
            {
                Vector256<int> q = Vector256.Load(previous + c) + Vector256.Load(values + c);
                Vector256.Store(q, previous + c);
                beyond |= Vector256.GreaterThan(Vector256.Abs(q), limit);
            }

            outside = beyond != Vector256<int>.Zero;
        }

        for (; c < length; c++)
        {
            int q = previous[c] + values[c];
            previous[c] = q;
            outside |= (uint)(q + bound) > (uint)(2 * bound);
        }

        return !outside;
    }

    /// <summary><c>output[c] = f32(q[c]) × scales[c]</c> (§9.4).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ScaleRow(int* quantized, float* scales, float* output, int length)
    {
        int c = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            for (; c <= length - 8; c += 8)
                Vector256.Store(Vector256.ConvertToSingle(Vector256.Load(quantized + c)) * Vector256.Load(scales + c), output + c);
        }

        for (; c < length; c++)
            output[c] = quantized[c] * scales[c];
    }

    /// <summary><c>output[c] = f32(q[c]) × scale</c> (§9.4).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ScaleRow(int* quantized, float scale, float* output, int length)
    {
        int c = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            Vector256<float> factor = Vector256.Create(scale);
            for (; c <= length - 8; c += 8)
                Vector256.Store(Vector256.ConvertToSingle(Vector256.Load(quantized + c)) * factor, output + c);
        }

        for (; c < length; c++)
            output[c] = quantized[c] * scale;
    }
}
