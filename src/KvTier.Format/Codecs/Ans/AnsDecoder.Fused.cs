using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace KvTier.Format.Codecs.Ans;

/// <summary>
/// The AVX2 path for the lane counts KvTier's encoder writes on real chunks (N = 8, 16, 32; kv_dim a multiple of 8):
/// a round of N elements is N/8 independent eight-lane steps whose states stay in registers, and every eight decoded
/// values go straight through prediction, range check and dequantization to the output. Gathers bound the loop (on
/// Zen 3 about ten cycles each): one per step for the slot lookup, one per two steps for the refill words, which is why
/// rounds go in pairs. The arithmetic and the dequantization mostly fill issue slots the gathers leave idle; with
/// N = 8 the single chain's latency (a gather, a multiply, a blend) bounds it instead.
/// </summary>
internal static unsafe partial class AnsDecoder
{
    /// <summary>Rounds between checks of lane positions and of the range of q: bounds how far a corrupt lane can read past its stream.</summary>
    private const int RoundsPerCheck = 64;

    /// <summary>A compile-time constant for the JIT: one specialized loop per value.</summary>
    private interface ISwitch
    {
        static abstract bool Value { get; }
    }

    private readonly struct Yes : ISwitch
    {
        public static bool Value => true;
    }

    private readonly struct No : ISwitch
    {
        public static bool Value => false;
    }

    /// <summary>How many groups of eight lanes a round has.</summary>
    private interface ILaneGroups
    {
        static abstract int Count { get; }
    }

    private readonly struct OneLaneGroup : ILaneGroups
    {
        public static int Count => 1;
    }

    private readonly struct TwoLaneGroups : ILaneGroups
    {
        public static int Count => 2;
    }

    private readonly struct FourLaneGroups : ILaneGroups
    {
        public static int Count => 4;
    }

    /// <summary>What the fused kernel reads and writes. Pointers: see the SAFETY note in <see cref="SectionDecoder.Run"/>.</summary>
    private struct FusedKernel
    {
        public uint* Lookup;
        public int* ChannelTable;   // null when G = 1
        public ushort* Words;
        public uint* States;
        public int* Positions;
        public int* Ends;
        public int* Previous;       // prediction 1 only
        public float* Scales;       // as f32
        public int* ChannelGroup;   // per-token axes: c div W for each channel c
        public float* Output;
        public long Rounds;
        public int KvDim;
        public int GroupsPerToken;  // per-token axes: kv_dim / W
        public int Bound;
    }

    /// <summary>
    /// Whether the fused kernel can decode a payload with these lanes and shape on this CPU: eight consecutive elements
    /// then always lie in one token and, with per-token scales (<paramref name="groupWidth"/> W ≠ 0), in one group of W
    /// channels. Per-token scales over the whole row (W = kv_dim) always qualify.
    /// </summary>
    private static bool FusedApplies(int lanes, int kvDim, int groupWidth) =>
        Avx2.IsSupported && lanes is 8 or 16 or 32 && kvDim % 8 == 0 && groupWidth % 8 == 0;

    /// <summary>Runs the specialization of <see cref="DecodeRounds"/> for the lane count, prediction, table count and scale axis.</summary>
    private static bool DecodeFused(ref FusedKernel kernel, int lanes, bool predicted, bool perChannel) =>
        lanes switch
        {
            8 => DecodeFused<OneLaneGroup>(ref kernel, predicted, perChannel),
            16 => DecodeFused<TwoLaneGroups>(ref kernel, predicted, perChannel),
            _ => DecodeFused<FourLaneGroups>(ref kernel, predicted, perChannel),
        };

    private static bool DecodeFused<TGroups>(ref FusedKernel kernel, bool predicted, bool perChannel)
        where TGroups : struct, ILaneGroups
    {
        bool tables = kernel.ChannelTable is not null;
        return (predicted, tables, perChannel) switch
        {
            (false, false, false) => DecodeRounds<TGroups, No, No, No>(ref kernel),
            (false, false, true) => DecodeRounds<TGroups, No, No, Yes>(ref kernel),
            (false, true, false) => DecodeRounds<TGroups, No, Yes, No>(ref kernel),
            (false, true, true) => DecodeRounds<TGroups, No, Yes, Yes>(ref kernel),
            (true, false, false) => DecodeRounds<TGroups, Yes, No, No>(ref kernel),
            (true, false, true) => DecodeRounds<TGroups, Yes, No, Yes>(ref kernel),
            (true, true, false) => DecodeRounds<TGroups, Yes, Yes, No>(ref kernel),
            (true, true, true) => DecodeRounds<TGroups, Yes, Yes, Yes>(ref kernel),
        };
    }

    /// <summary>
    /// Decodes the section's whole rounds (elements <c>[0, Rounds·N)</c>) into the output. False when a lane read past
    /// its stream or a predicted q left [−B, B]: the caller then finds and reports the fault with the checked path.
    /// The loop makes no calls, so that the lane states stay in registers (every ymm register is caller-saved).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static bool DecodeRounds<TGroups, TPredicted, TTables, TPerChannel>(ref FusedKernel k)
        where TGroups : struct, ILaneGroups
        where TPredicted : struct, ISwitch
        where TTables : struct, ISwitch
        where TPerChannel : struct, ISwitch
    {
        var cursor = new OutputCursor(k);
        uint* lookup = k.Lookup;
        int* channelTable = k.ChannelTable;
        ushort* words = k.Words;
        long rounds = k.Rounds;
        Vector256<int> beyond = Vector256<int>.Zero;

        Vector256<uint> x0 = Avx.LoadVector256(k.States), x1 = default, x2 = default, x3 = default;
        Vector256<int> p0 = Avx.LoadVector256(k.Positions), p1 = default, p2 = default, p3 = default;
        if (TGroups.Count >= 2)
        {
            x1 = Avx.LoadVector256(k.States + 8);
            p1 = Avx.LoadVector256(k.Positions + 8);
        }

        if (TGroups.Count >= 4)
        {
            x2 = Avx.LoadVector256(k.States + 16);
            p2 = Avx.LoadVector256(k.Positions + 16);
            x3 = Avx.LoadVector256(k.States + 24);
            p3 = Avx.LoadVector256(k.Positions + 24);
        }

        Vector256<uint> low16 = Vector256.Create(0xFFFFu);
        Vector256<uint> sixteen = Vector256.Create(16u);
        for (long r0 = 0; r0 < rounds; r0 += RoundsPerCheck)
        {
            long r1 = Math.Min(rounds, r0 + RoundsPerCheck);
            long r = r0;

            // Rounds in pairs: a lane takes at most one word per round, so one 32-bit gather at its position fetches
            // both words the pair may need; the second round takes the high word where the first took the low one.
            for (; r + 2 <= r1; r += 2)
            {
                Vector256<uint> w0 = GatherWordPair(words, p0), w1 = default, w2 = default, w3 = default;
                if (TGroups.Count >= 2)
                    w1 = GatherWordPair(words, p1);
                if (TGroups.Count >= 4)
                {
                    w2 = GatherWordPair(words, p2);
                    w3 = GatherWordPair(words, p3);
                }

                Vector256<uint> m0, m1 = default, m2 = default, m3 = default, refill;
                cursor.Emit<TPredicted, TPerChannel>(Step<TTables>(ref x0, w0 & low16, lookup, channelTable + cursor.Channel, out m0), ref beyond);
                if (TGroups.Count >= 2)
                    cursor.Emit<TPredicted, TPerChannel>(Step<TTables>(ref x1, w1 & low16, lookup, channelTable + cursor.Channel, out m1), ref beyond);
                if (TGroups.Count >= 4)
                {
                    cursor.Emit<TPredicted, TPerChannel>(Step<TTables>(ref x2, w2 & low16, lookup, channelTable + cursor.Channel, out m2), ref beyond);
                    cursor.Emit<TPredicted, TPerChannel>(Step<TTables>(ref x3, w3 & low16, lookup, channelTable + cursor.Channel, out m3), ref beyond);
                }

                cursor.Emit<TPredicted, TPerChannel>(Step<TTables>(ref x0, Avx2.ShiftRightLogicalVariable(w0, m0 & sixteen) & low16, lookup, channelTable + cursor.Channel, out refill), ref beyond);
                p0 -= (m0 + refill).AsInt32();
                if (TGroups.Count >= 2)
                {
                    cursor.Emit<TPredicted, TPerChannel>(Step<TTables>(ref x1, Avx2.ShiftRightLogicalVariable(w1, m1 & sixteen) & low16, lookup, channelTable + cursor.Channel, out refill), ref beyond);
                    p1 -= (m1 + refill).AsInt32();
                }

                if (TGroups.Count >= 4)
                {
                    cursor.Emit<TPredicted, TPerChannel>(Step<TTables>(ref x2, Avx2.ShiftRightLogicalVariable(w2, m2 & sixteen) & low16, lookup, channelTable + cursor.Channel, out refill), ref beyond);
                    p2 -= (m2 + refill).AsInt32();
                    cursor.Emit<TPredicted, TPerChannel>(Step<TTables>(ref x3, Avx2.ShiftRightLogicalVariable(w3, m3 & sixteen) & low16, lookup, channelTable + cursor.Channel, out refill), ref beyond);
                    p3 -= (m3 + refill).AsInt32();
                }
            }

            for (; r < r1; r++)
            {
                Vector256<uint> refill;
                cursor.Emit<TPredicted, TPerChannel>(Step<TTables>(ref x0, GatherWordPair(words, p0) & low16, lookup, channelTable + cursor.Channel, out refill), ref beyond);
                p0 -= refill.AsInt32();
                if (TGroups.Count >= 2)
                {
                    cursor.Emit<TPredicted, TPerChannel>(Step<TTables>(ref x1, GatherWordPair(words, p1) & low16, lookup, channelTable + cursor.Channel, out refill), ref beyond);
                    p1 -= refill.AsInt32();
                }

                if (TGroups.Count >= 4)
                {
                    cursor.Emit<TPredicted, TPerChannel>(Step<TTables>(ref x2, GatherWordPair(words, p2) & low16, lookup, channelTable + cursor.Channel, out refill), ref beyond);
                    p2 -= refill.AsInt32();
                    cursor.Emit<TPredicted, TPerChannel>(Step<TTables>(ref x3, GatherWordPair(words, p3) & low16, lookup, channelTable + cursor.Channel, out refill), ref beyond);
                    p3 -= refill.AsInt32();
                }
            }

            Vector256<int> fault = beyond | Avx2.CompareGreaterThan(p0, Avx.LoadVector256(k.Ends));
            if (TGroups.Count >= 2)
                fault |= Avx2.CompareGreaterThan(p1, Avx.LoadVector256(k.Ends + 8));
            if (TGroups.Count >= 4)
                fault |= Avx2.CompareGreaterThan(p2, Avx.LoadVector256(k.Ends + 16)) | Avx2.CompareGreaterThan(p3, Avx.LoadVector256(k.Ends + 24));
            if (!Avx.TestZ(fault, fault))
                return false;
        }

        Avx.Store(k.States, x0);
        Avx.Store(k.Positions, p0);
        if (TGroups.Count >= 2)
        {
            Avx.Store(k.States + 8, x1);
            Avx.Store(k.Positions + 8, p1);
        }

        if (TGroups.Count >= 4)
        {
            Avx.Store(k.States + 16, x2);
            Avx.Store(k.Positions + 16, p2);
            Avx.Store(k.States + 24, x3);
            Avx.Store(k.Positions + 24, p3);
        }

        return true;
    }

    /// <summary>Each lane's next two words (low half: the word at its position), read as one 32-bit gather; the stream's padding covers the second word of a lane at its end.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<uint> GatherWordPair(ushort* words, Vector256<int> positions) =>
        Avx2.GatherVector256((int*)words, positions, 2).AsUInt32();

    /// <summary>
    /// One §9.2 step of eight lanes through the slot lookup, refilling from <paramref name="word"/> where the state fell
    /// below 2^16 (<paramref name="refill"/>: all ones there). Returns the lanes' zigzag values. The lookup gather is the
    /// long pole of the dependency chain, so <c>(x≫12) + (slot − cum)</c> is formed beside the multiplication.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> Step<TTables>(ref Vector256<uint> x, Vector256<uint> word, uint* lookup, int* channelTable, out Vector256<uint> refill)
        where TTables : struct, ISwitch
    {
        Vector256<uint> low12 = Vector256.Create(0xFFFu);
        Vector256<int> index = (x & low12).AsInt32();
        if (TTables.Value)
            index += Avx.LoadVector256(channelTable);
        Vector256<uint> entry = Avx2.GatherVector256((int*)lookup, index, 4).AsUInt32();
        Vector256<uint> high = x >>> 12;
        Vector256<uint> next = Avx2.MultiplyLow((entry >>> 12) & low12, high) + (high + (entry & low12));
        refill = Vector256.Equals(next >>> 16, Vector256<uint>.Zero);
        x = Avx2.BlendVariable(next, (next << 16) | word, refill);
        return Avx2.ShiftRightArithmetic(entry.AsInt32(), 24);
    }

    /// <summary>Where the fused kernel's next eight values go: output pointer, channel, and the current token's scales.</summary>
    private struct OutputCursor(in FusedKernel k)
    {
        private readonly int* _previous = k.Previous;
        private readonly int* _channelGroup = k.ChannelGroup;
        private readonly int _kvDim = k.KvDim;
        private readonly int _groupsPerToken = k.GroupsPerToken;
        private readonly Vector256<int> _bound = Vector256.Create(k.Bound);
        private float* _output = k.Output;
        private float* _scales = k.Scales; // per channel; or, per-token axes, the current token's, one per group of W channels

        public int Channel;

        /// <summary>Prediction (§9.3), range check and dequantization (§9.4) of eight consecutive channels of one token, then on to the next eight.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Emit<TPredicted, TPerChannel>(Vector256<int> v, ref Vector256<int> beyond)
            where TPredicted : struct, ISwitch
            where TPerChannel : struct, ISwitch
        {
            Vector256<int> q = v;
            if (TPredicted.Value)
            {
                q += Avx.LoadVector256(_previous + Channel);
                Avx.Store(_previous + Channel, q);
                beyond |= Avx2.CompareGreaterThan(Avx2.Abs(q).AsInt32(), _bound);
            }

            Vector256<float> scale = TPerChannel.Value ? Avx.LoadVector256(_scales + Channel) : Vector256.Create(_scales[_channelGroup[Channel]]);
            Avx.Store(_output, Avx.Multiply(Avx.ConvertToVector256Single(q), scale));
            _output += 8;
            if ((Channel += 8) == _kvDim)
            {
                Channel = 0;
                if (!TPerChannel.Value)
                    _scales += _groupsPerToken;
            }
        }
    }
}
