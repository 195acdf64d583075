using System.Diagnostics;
using System.Globalization;
using KvTier.Blend;
using KvTier.BlendBench;
using KvTier.Keys;
using KvTier.Prefetch;
using KvTier.Reference;
using KvTier.Storage;

// Blend quality against prefill work saved on the reference model (issue 6 §3), with the baselines measured in the same
// run. Usage: dotnet run -c Release --project bench/KvTier.BlendBench -- [--cases N] [--documents N] [--per-prompt N]
// [--document-tokens N] [--steps N] [--out DIR] [--models DIR]. Writes DIR/blend.json and DIR/blend.png.
BenchOptions options = BenchOptions.Parse(args);
LlamaModel model = LlamaModel.Load(ModelDirectory.Locate(options.Models));
var clock = Stopwatch.StartNew();
RagCorpus corpus = RagCorpus.Generate(model, RagCorpus.DefaultSeeds.Take(options.Documents).ToArray(), options.DocumentTokens);
Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
    $"model {model.ModelId}: {model.Layout.Layers} layers; {corpus.Documents.Count} documents of ~{options.DocumentTokens} tokens, {options.Cases} prompts of {options.PerPrompt} documents in random orders behind a {corpus.Prefix.Count}-token system prompt, quality over the next {options.Steps} positions"));

string storeDirectory = Path.Combine(Path.GetTempPath(), "kvtier-blendbench-" + Environment.ProcessId);
try
{
    var keys = new ChunkKeys(model.ModelId, model.Layout);
    using KvStore store = KvStore.Open(new KvStoreOptions { Directory = storeDirectory });
    RagStore.StoreCorpus(model, store, keys, corpus);
    await using var prefetcher = new Prefetcher(store);
    var blender = new Blender(prefetcher, keys, new BlendOptions { ContextLength = model.Config.SeqLen });
    var unrotated = new Blender(prefetcher, keys, new BlendOptions { ContextLength = model.Config.SeqLen, RerotateKeys = false });

    // Baselines, the recompute-share sweep with the default selector, and other selector settings at 15 %.
    var methods = new List<Method>
    {
        new("full prefill", Names.Baseline, null, e => Task.FromResult(e.FullPrefill())),
        new(Names.PrefixOnly, Names.Baseline, null, e => Task.FromResult(e.PrefixOnly())),
        new(Names.FullReuse, Names.Baseline, 0, e => e.BlendAsync(blender, (RecomputeOptions?)null)),
        new(Names.NoRerotation, Names.Baseline, 0.15, e => e.BlendAsync(unrotated, new RecomputeOptions())),
    };
    foreach (double share in new[] { 0, 0.05, 0.10, 0.15, 0.25, 0.50, 1.0 })
        methods.Add(new(string.Create(CultureInfo.InvariantCulture, $"blend {share:P0}"), Names.Sweep, share, e => e.BlendAsync(blender, new RecomputeOptions { Share = share })));
    methods.Add(new("15%, K distance (LMCache)", Names.Variant, 0.15, e => e.BlendAsync(blender, new RecomputeOptions { Measure = DeviationMeasure.KeySquared })));
    methods.Add(new("15%, KV distance (CacheBlend)", Names.Variant, 0.15, e => e.BlendAsync(blender, new RecomputeOptions { Measure = DeviationMeasure.KeyValueSquared })));
    methods.Add(new("15%, V distance", Names.Variant, 0.15, e => e.BlendAsync(blender, new RecomputeOptions { Measure = DeviationMeasure.ValueSquared })));
    methods.Add(new("15%, gradual at layers 1, 2", Names.Variant, 0.15, e => e.BlendAsync(blender, new RecomputeOptions { CheckLayers = [1, 2] })));
    methods.Add(new("15%, check at layer 2", Names.Variant, 0.15, e => e.BlendAsync(blender, new RecomputeOptions { CheckLayers = [2] })));
    methods.Add(new("15%, streamed layer by layer", Names.Variant, 0.15, e => e.BlendStreamedAsync(blender, new RecomputeOptions())));
    methods.Add(new("15%, oracle deviation", Names.Variant, 0.15, e => e.BlendAsync(blender, kv => Oracle.Options(kv, e.FullCache))));

    var random = new Random(options.Seed);
    var outcomes = methods.ToDictionary(m => m, _ => new List<(BlendOutcome Outcome, TimeSpan Full)>());
    for (int c = -1; c < options.Cases; c++)
    {
        // Case -1 warms the JIT up (every method once) and is not counted.
        int[] order = [.. Enumerable.Range(0, corpus.Documents.Count).OrderBy(_ => random.Next()).Take(options.PerPrompt)];
        var evaluation = new BlendEvaluation(model, corpus, order, options.Steps);
        foreach (Method method in methods)
        {
            BlendOutcome outcome = await method.Run(evaluation);
            if (c >= 0)
                outcomes[method].Add((outcome, evaluation.FullElapsed));
        }

        Console.Write('.');
    }

    Console.WriteLine();
    List<MethodSummary> rows = [.. methods.Select(m => MethodSummary.Of(m, outcomes[m]))];
    Report.Print(rows);
    Report.Write(rows, options, model, corpus, clock.Elapsed);
}
finally
{
    if (Directory.Exists(storeDirectory))
        Directory.Delete(storeDirectory, recursive: true);
}
