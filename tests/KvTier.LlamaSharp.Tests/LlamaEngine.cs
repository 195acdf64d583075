using KvTier.Prefetch;
using KvTier.Prefetch.Decoding;
using KvTier.Reference;
using KvTier.Storage;
using KvTier.Testing;
using LLama;
using LLama.Common;
using LLama.Native;

namespace KvTier.LlamaSharp.Tests;

/// <summary>stories260K.gguf in llama.cpp (LLamaSharp, CPU backend): a context per test over weights loaded once per cache type.</summary>
internal static class LlamaEngine
{
    public const uint ContextSize = 128;
    private static readonly object Gate = new();
    private static readonly Dictionary<GGMLType, LLamaWeights> Weights = [];

    public static string GgufPath => Path.Combine(ModelDirectory.Locate(), ModelDirectory.DefaultModelName, "stories260K.gguf");

    /// <summary>The first tokens llama2.c feeds for "Once upon a time" (reference/ref_n64_once.txt): BOS, the prompt, and its greedy continuation.</summary>
    public static readonly int[] ReferenceTokens =
    [
        1, 403, 407, 261, 378, 432, 383, 286, 261, 376, 298, 315, 421, 395, 317, 426, 338, 401, 396, 267, 337, 410, 408, 419, 292, 411,
        322, 265, 282, 295, 433, 426, 385, 328, 432, 358, 394, 261, 370, 432, 352, 266, 268, 388, 426, 338, 391, 266, 267, 337, 335, 312,
        432, 398, 312, 286, 267, 414, 270, 333, 415, 426, 13, 438,
    ];

    public static ModelParams Parameters(GGMLType cacheType, bool flashAttention = false) => new(GgufPath)
    {
        ContextSize = ContextSize,
        GpuLayerCount = 0,
        TypeK = cacheType,
        TypeV = cacheType,
        FlashAttention = flashAttention,
        SeqMax = 2,
        BatchSize = 64,
        Threads = 2,
        BatchThreads = 2,
    };

    public static LLamaContext CreateContext(GGMLType cacheType, bool flashAttention = false)
    {
        ModelParams parameters = Parameters(cacheType, flashAttention);
        LLamaWeights weights;
        lock (Gate)
        {
            if (!Weights.TryGetValue(cacheType, out weights!))
            {
                NativeLogConfig.llama_log_set((level, message) => { });
                weights = LLamaWeights.LoadFromFile(parameters);
                Weights[cacheType] = weights;
            }
        }
        return weights.CreateContext(parameters);
    }

    /// <summary>Evaluates tokens from position 0 in a sequence and returns the last logits.</summary>
    public static float[] Evaluate(LLamaContext context, ReadOnlySpan<int> tokens, int firstPosition, LLamaSeqId sequence)
    {
        var batch = new LLamaBatch();
        for (int i = 0; i < tokens.Length; i++)
            batch.Add((LLamaToken)tokens[i], firstPosition + i, sequence, i == tokens.Length - 1);
        DecodeResult result = context.Decode(batch);
        if (result != DecodeResult.Ok)
            throw new InvalidOperationException($"Decode failed: {result}");
        return context.NativeHandle.GetLogitsIth(tokens.Length - 1).ToArray();
    }

    public static unsafe byte[] SaveState(LLamaContext context, LLamaSeqId sequence)
    {
        var blob = new byte[(ulong)context.NativeHandle.GetStateSize(sequence)];
        fixed (byte* p = blob)
            context.NativeHandle.GetState(p, (nuint)blob.Length, sequence);
        return blob;
    }

    public static unsafe ulong LoadState(LLamaContext context, byte[] blob, LLamaSeqId sequence)
    {
        fixed (byte* p = blob)
            return (ulong)context.NativeHandle.SetState(p, (nuint)blob.Length, sequence);
    }

    /// <summary>A prefetcher over <paramref name="store"/> that decodes on the CPU (no GPU probe), two workers.</summary>
    public static Prefetcher NewPrefetcher(KvStore store) => new(store, new PrefetcherOptions { Decoder = CpuSectionDecoder.Instance, DecodeParallelism = 2 });

    /// <summary><paramref name="steps"/> greedy tokens after a prompt of <paramref name="start"/> tokens, each evaluated by the engine in turn.</summary>
    public static async Task<int[]> GreedyAsync(KvTierLlamaCache cache, float[] logits, int start, LLamaSeqId sequence, int steps)
    {
        var output = new int[steps];
        for (int i = 0; i < steps; i++)
        {
            output[i] = GreedySampler.Argmax(logits);
            logits = await cache.EvaluateAsync(new[] { output[i] }, start + i, sequence);
        }

        return output;
    }
}
