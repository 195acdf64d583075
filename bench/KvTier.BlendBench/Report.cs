using System.Globalization;
using System.Text.Json;
using KvTier.Bench.Shared;
using KvTier.Reference;

namespace KvTier.BlendBench;

/// <summary>The console table, the targets, blend.json and the quality–share plot.</summary>
internal static class Report
{
    // Issue 6 §3: at 15 % recomputation.
    private const double TargetShare = 0.15;
    private const double TargetKlFraction = 0.2;
    private const double TargetGreedy = 0.9;
    private const double TargetWorkSaved = 0.7;

    public static void Print(IReadOnlyList<MethodSummary> rows)
    {
        Console.WriteLine($"{"method",-30} {"mean KL",10} {"max KL",10} {"greedy =",9} {"work saved",11} {"computed",9} {"time vs full",13} {"median ms",10}");
        foreach (MethodSummary r in rows)
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{r.Name,-30} {r.MeanKl,10:E2} {r.MaxKl,10:E2} {r.GreedyMatchShare,9:P0} {r.WorkSaved,11:P1} {r.RecomputedTokens,9:F1} {r.TimeVsFullPrefill,12:F2}x {r.MedianMilliseconds,10:F2}"));
        }
    }

    /// <summary>Checks the targets, prints them, writes DIR/blend.json and DIR/blend.png.</summary>
    public static void Write(IReadOnlyList<MethodSummary> rows, BenchOptions options, LlamaModel model, RagCorpus corpus, TimeSpan elapsed)
    {
        MethodSummary fullReuse = rows.Single(r => r.Name == Names.FullReuse);
        MethodSummary blend = rows.Single(r => r.Family == Names.Sweep && r.Share == TargetShare);
        int layers = model.Config.Layers;
        // A selective method computes every reused position fully in layer 0 (to get layer 1's input) and a share of them
        // in the layers after: at best it saves 1 − (1/L + share·(L−1)/L) of the reused positions' work.
        double bound = 1 - (1.0 / layers + TargetShare * (layers - 1) / layers);
        var targets = new[]
        {
            Target("KL at 15% ≤ full reuse's / 5", blend.MeanKl, fullReuse.MeanKl * TargetKlFraction, blend.MeanKl <= fullReuse.MeanKl * TargetKlFraction),
            Target("identical greedy continuations at 15% ≥ 90%", blend.GreedyMatchShare, TargetGreedy, blend.GreedyMatchShare >= TargetGreedy),
            Target("prefill work saved at 15% ≥ 70%", blend.WorkSaved, TargetWorkSaved, blend.WorkSaved >= TargetWorkSaved),
        };
        Console.WriteLine();
        foreach (var t in targets)
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{(t.Met ? "met    " : "NOT MET")}  {t.Name}: {t.Value:G4} (bound {t.Bound:G4})"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"work-saved ceiling for any check at layer 1 with {layers} layers and 15% recomputed: {bound:P1} of the reused positions' work (32 layers: {1 - (1.0 / 32 + TargetShare * 31 / 32):P1})"));

        Directory.CreateDirectory(options.Out);
        string json = Path.Combine(options.Out, "blend.json");
        var document = new
        {
            benchmark = "blend",
            machine = MachineInfo.Describe(options.Out),
            elapsedSeconds = Math.Round(elapsed.TotalSeconds, 1),
            model = new { id = model.ModelId, layers, kvDim = model.Config.KvDim, contextLength = model.Config.SeqLen },
            setup = new
            {
                options.Cases,
                documents = corpus.Documents.Count,
                documentsPerPrompt = options.PerPrompt,
                documentTokens = corpus.Documents.Select(d => d.Length).ToArray(),
                systemPromptTokens = corpus.Prefix.Count,
                questionTokens = corpus.Question.Count,
                continuationPositions = options.Steps,
                options.Seed,
                codec = "raw (float32): blend quality apart from codec loss",
                work = "multiply-accumulates of the Q/K/V/output projections, attention scores and weighted sums, and the SwiGLU MLP (LlamaSession.Work)",
            },
            rows,
            targets,
            workSavedCeiling = new { layers, share = TargetShare, ceiling = bound, note = "1 − (1/L + share·(L−1)/L): layer 0 is computed for every reused position to obtain layer 1's input" },
        };
        File.WriteAllText(json, JsonSerializer.Serialize(document, new JsonSerializerOptions { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.CamelCase }));
        string png = Path.Combine(options.Out, "blend.png");
        Plot(rows, png, options.Cases);
        Console.WriteLine($"wrote {json} and {png}");
    }

    private static TargetResult Target(string name, double value, double bound, bool met) => new(name, value, bound, met);

    /// <summary>Mean KL (log scale) against the recompute share, the greedy-match share and work saved beside each point, baselines as lines.</summary>
    private static void Plot(IReadOnlyList<MethodSummary> rows, string path, int cases)
    {
        const double floor = 1e-6; // KL 0 (identical to the full prefill) is drawn here
        static double Y(double kl) => Math.Log10(Math.Max(kl, floor));
        var plot = new ScottPlot.Plot();
        MethodSummary[] sweep = [.. rows.Where(r => r.Family == Names.Sweep).OrderBy(r => r.Share)];
        var curve = plot.Add.Scatter(sweep.Select(r => 100 * r.Share!.Value).ToArray(), sweep.Select(r => Y(r.MeanKl)).ToArray());
        curve.LegendText = "blend with selective recomputation";
        curve.MarkerSize = 8;
        foreach (MethodSummary r in sweep)
        {
            var label = plot.Add.Text(string.Create(CultureInfo.InvariantCulture, $"greedy {r.GreedyMatchShare:P0}, saved {r.WorkSaved:P0}"), 100 * r.Share!.Value, Y(r.MeanKl));
            label.LabelFontSize = 10;
            label.OffsetX = 6;
            label.OffsetY = -4;
        }

        MethodSummary fullReuse = rows.Single(r => r.Name == Names.FullReuse);
        var reuseLine = plot.Add.HorizontalLine(Y(fullReuse.MeanKl));
        reuseLine.LegendText = string.Create(CultureInfo.InvariantCulture, $"{Names.FullReuse}: greedy {fullReuse.GreedyMatchShare:P0}, saved {fullReuse.WorkSaved:P0}");
        reuseLine.LinePattern = ScottPlot.LinePattern.Dashed;
        var targetLine = plot.Add.HorizontalLine(Y(fullReuse.MeanKl * TargetKlFraction));
        targetLine.LegendText = "target at 15%: KL ≤ full reuse's / 5";
        targetLine.LinePattern = ScottPlot.LinePattern.Dotted;
        MethodSummary unrotated = rows.Single(r => r.Name == Names.NoRerotation);
        var unrotatedPoint = plot.Add.Marker(100 * unrotated.Share!.Value, Y(unrotated.MeanKl), ScottPlot.MarkerShape.FilledSquare, 9);
        unrotatedPoint.LegendText = string.Create(CultureInfo.InvariantCulture, $"{Names.NoRerotation}: greedy {unrotated.GreedyMatchShare:P0}");
        MethodSummary prefix = rows.Single(r => r.Name == Names.PrefixOnly);
        var note = plot.Add.Text(string.Create(CultureInfo.InvariantCulture,
            $"KL 0 (drawn at 1e-6): full prefill, blend 100%, and {Names.PrefixOnly} (saves {prefix.WorkSaved:P0})"), 2, Y(floor) + 0.25);
        note.LabelFontSize = 11;
        plot.Axes.SetLimitsX(-3, 125);
        plot.Axes.Left.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic
        {
            IntegerTicksOnly = true,
            LabelFormatter = y => string.Create(CultureInfo.InvariantCulture, $"1e{y:0}"),
        };
        plot.Title($"Blending on stories260K: quality against recompute share ({cases} RAG prompts)");
        plot.XLabel("tokens recomputed after the check layer (% of reused tokens)");
        plot.YLabel("mean KL vs full prefill, next 32 positions (log; exact at 1e-6)");
        plot.ShowLegend(ScottPlot.Alignment.UpperRight);
        plot.SavePng(path, 1000, 650);
    }

    private sealed record TargetResult(string Name, double Value, double Bound, bool Met);
}

/// <summary>Row names and families the report looks for.</summary>
internal static class Names
{
    public const string FullReuse = "full reuse (no recompute)";
    public const string PrefixOnly = "prefix only";
    public const string NoRerotation = "no re-rotation, 15%";
    public const string Baseline = "baseline";
    public const string Sweep = "blend";
    public const string Variant = "variant";
}
