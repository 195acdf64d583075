using System.Globalization;

namespace KvTier.CodecBench;

/// <summary>The console table and the rate–quality plot.</summary>
internal static class Report
{
    public static void PrintTable(IReadOnlyList<CandidateSummary> rows)
    {
        Console.WriteLine();
        Console.WriteLine($"{"candidate",-12} {"bits/elem",9} {"vs fp16",8} {"vs cachegen",11} {"encode el/s",12} {"decode el/s",12} {"mean KL",10} {"max KL",10} {"greedy =",9}");
        foreach (CandidateSummary r in rows)
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{r.Name,-12} {r.BitsPerElement,9:F3} {r.RatioToFp16,7:F2}x {r.RatioToCacheGen,10:F2}x {r.EncodeElementsPerSecond,12:E2} {r.DecodeElementsPerSecond,12:E2} {r.MeanKl,10:E2} {r.MaxPromptKl,10:E2} {r.GreedyMatchShare,9:P0}"));
        }
    }

    /// <summary>Bits per element against mean KL (log scale), one curve per family; KL 0 (lossless) is drawn at the floor.</summary>
    public static void Plot(IReadOnlyList<CandidateSummary> rows, string path)
    {
        const double floor = 1e-7;
        var plot = new ScottPlot.Plot();
        foreach (IGrouping<string, CandidateSummary> family in rows.GroupBy(r => r.Family))
        {
            CandidateSummary[] points = family.OrderBy(r => r.BitsPerElement).ToArray();
            double[] xs = points.Select(p => p.BitsPerElement).ToArray();
            double[] ys = points.Select(p => Math.Log10(Math.Max(p.MeanKl, floor))).ToArray();
            var scatter = plot.Add.Scatter(xs, ys);
            scatter.LegendText = family.Key;
            scatter.MarkerSize = 8;
            foreach (CandidateSummary p in points)
            {
                var label = plot.Add.Text(p.Name, p.BitsPerElement, Math.Log10(Math.Max(p.MeanKl, floor)));
                label.LabelFontSize = 10;
                label.OffsetY = -6;
            }
        }

        plot.Axes.Left.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic
        {
            IntegerTicksOnly = true,
            LabelFormatter = y => string.Create(CultureInfo.InvariantCulture, $"1e{y:0}"),
        };
        plot.Title("KV codecs on stories260K: size against model quality");
        plot.XLabel("bits per element (whole records / compressed bytes)");
        plot.YLabel("mean KL of next-token distributions (log; lossless at 1e-7)");
        plot.ShowLegend(ScottPlot.Alignment.UpperRight);
        plot.SavePng(path, 900, 600);
    }
}
