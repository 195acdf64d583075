using System.Diagnostics;
using KvTier.LlamaSharp;
using KvTier.Reference;
using LLama;
using LLama.Common;
using LLama.Native;

namespace KvTier.E2eBench;

/// <summary>
/// stories260K.gguf in llama.cpp (LLamaSharp, CPU backend): one context of 512 positions, F16 cache (llama.cpp's
/// default, the 8B projection's element type), the whole prompt in one batch, flash attention off; threads: half the
/// cores by default (llama.cpp's threads meet in spin barriers, and with as many threads as cores a preempted one
/// stalls evaluations for a scheduler slice).
/// </summary>
/// <remarks>A llama.cpp context is not thread-safe: the harness uses it from one thread at a time.</remarks>
internal sealed class Engine : IDisposable
{
    public const uint ContextSize = 512;
    public static readonly LLamaSeqId Sequence = LLamaSeqId.Zero;

    // BOS and the opening of llama2.c's "Once upon a time" reference (tests/KvTier.LlamaSharp.Tests/LlamaEngine.cs):
    // the seed the prompt text is generated from.
    private static readonly int[] Seed = [1, 403, 407, 261, 378, 432, 383, 286];

    private readonly LLamaWeights _weights;

    private Engine(string ggufPath, LLamaWeights weights, LLamaContext context)
    {
        GgufPath = ggufPath;
        _weights = weights;
        Context = context;
    }

    public string GgufPath { get; }

    /// <summary>llama.cpp's threads.</summary>
    public int Threads { get; private init; }

    public LLamaContext Context { get; }

    /// <summary>Threads when none are asked for: half the cores, 1 to 8.</summary>
    public static int DefaultThreads => Math.Clamp(Environment.ProcessorCount / 2, 1, 8);

    public static Engine Load(string? modelDirectory, int threads)
    {
        string gguf = Path.Combine(ModelDirectory.Locate(modelDirectory), ModelDirectory.DefaultModelName, "stories260K.gguf");
        var parameters = new ModelParams(gguf)
        {
            ContextSize = ContextSize,
            GpuLayerCount = 0,
            TypeK = GGMLType.GGML_TYPE_F16,
            TypeV = GGMLType.GGML_TYPE_F16,
            FlashAttention = false,
            SeqMax = 1,
            BatchSize = ContextSize,
            UBatchSize = ContextSize,
            Threads = threads,
            BatchThreads = threads,
        };
        NativeLogConfig.llama_log_set((level, message) => { });
        LLamaWeights weights = LLamaWeights.LoadFromFile(parameters);
        return new Engine(gguf, weights, weights.CreateContext(parameters)) { Threads = threads };
    }

    /// <summary>The model's own text: greedy from the seed until <paramref name="length"/> tokens.</summary>
    public async Task<int[]> GenerateTextAsync(KvTierLlamaCache cache, int length)
    {
        var tokens = new List<int>(Seed);
        cache.ClearSequence(Sequence);
        float[] logits = await cache.EvaluateAsync(Seed, 0, Sequence);
        while (tokens.Count < length)
        {
            int next = GreedySampler.Argmax(logits);
            tokens.Add(next);
            if (tokens.Count < length)
                logits = await cache.EvaluateAsync(new[] { next }, tokens.Count - 1, Sequence);
        }
        cache.ClearSequence(Sequence);
        return [.. tokens];
    }

    /// <summary>
    /// The greedy continuation after a prefill: the first token from the prefill's logits, then <paramref name="steps"/> − 1
    /// more, each evaluated by the engine. Also returns the median time of one single-token step (milliseconds).
    /// </summary>
    public static async Task<(int[] Tokens, double StepMs)> ContinueAsync(KvTierLlamaCache cache, float[] logits, int promptLength, int steps)
    {
        var output = new int[steps];
        var stepMs = new double[steps - 1];
        output[0] = GreedySampler.Argmax(logits);
        for (int i = 1; i < steps; i++)
        {
            long start = Stopwatch.GetTimestamp();
            logits = await cache.EvaluateAsync(new[] { output[i - 1] }, promptLength + i - 1, Sequence);
            stepMs[i - 1] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
            output[i] = GreedySampler.Argmax(logits);
        }
        return (output, Timing.Median(stepMs));
    }

    public void Dispose()
    {
        Context.Dispose();
        _weights.Dispose();
    }
}
