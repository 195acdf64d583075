using BenchmarkDotNet.Attributes;
using KvTier.Reference;

namespace KvTier.Bench;

/// <summary>
/// What cache reuse saves the engine, on the real stories260K model: a full prefill of 256 tokens (the baseline)
/// against a prefill that loads the KV of the first 192 positions and computes the last 64.
/// Needs the model files (../shared/models or KVTIER_MODELS).
/// </summary>
public class PrefillBenchmarks
{
    private const int Tokens = 256;
    private const int Cached = 192;

    private LlamaModel _model = null!;
    private LlamaSession _session = null!;
    private int[] _tokens = [];
    private KvCache _prefix = null!;

    [GlobalSetup]
    public void Setup()
    {
        _model = LlamaModel.Load(ModelDirectory.Locate());
        GenerationResult run = _model.CreateSession().Generate("Once upon a time", Tokens);
        _tokens = [.. run.FedTokens];
        _prefix = run.Cache.TakePrefix(Cached);
        _session = _model.CreateSession();
    }

    /// <summary>Baseline: every position computed.</summary>
    [Benchmark(Baseline = true)]
    public float FullPrefill() => _session.Prefill(_tokens)[0];

    /// <summary>192 positions loaded from a KV cache, 64 computed.</summary>
    [Benchmark]
    public float ContinuedPrefill() => _session.Prefill(_tokens, _prefix)[0];
}
