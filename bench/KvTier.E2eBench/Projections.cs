using System.Text.Json;

namespace KvTier.E2eBench;

/// <summary>
/// What loading instead of computing would give an 8B-class model (32 layers, 8 KV heads × 128, fp16): PROJECTED, not
/// measured. Bytes per token come from the layout (and the store's records of it); prefill rates are published llama.cpp
/// figures, cited; load rates are this machine's measurements of 8B-class records by the prefetch and server harnesses
/// (their JSON in bench/results), and, as a pessimistic variant, this run's rates on the tiny model's 16-token chunks.
/// </summary>
internal static class Projections
{
    public const int ExamplePromptTokens = 4096;
    public const long RawBytesPerToken = 32L * 2 * 8 * 128 * 2; // layers × (K, V) × KV heads × head dim × fp16

    public static readonly PublishedPrefill[] Published =
    [
        new("CPU", "llama.cpp pp512, LLaMA-3.1-8B Q8_0, Ryzen 9 7950X (Zen4), 16 threads", 141.30,
            "mainline llama.cpp column of the comparison table in ik_llama.cpp PR #54 (2024-09-14)", "https://github.com/ikawrakow/ik_llama.cpp/pull/54"),
        new("GPU", "llama.cpp prompt evaluation, Llama 3.1 8B Q4_K_M, NVIDIA RTX 3080", 3806.89,
            "llama.cpp build 93bc3839 (3622), reported in dmatora/LLM-inference-speed-benchmarks issue #12 (2024-08-26)", "https://github.com/dmatora/LLM-inference-speed-benchmarks/issues/12"),
    ];

    // This harness's case → the prefetch harness's state name.
    private static readonly (string Case, string PrefetchState)[] Tiers =
        [("Memory", "memory tier"), ("WarmDisk", "warm page cache"), ("ColdDisk", "cold disk"), ("Serve", "memory tier")];

    public static Projection Build(string resultsDirectory, IReadOnlyList<CaseResult> cases, double runRawBytesPerToken, double runAnsRatio)
    {
        var rows = new List<ProjectionRow>();
        Dictionary<(string Codec, string State), (double TokensPerSecond, double BytesPerToken)> prefetch = ReadPrefetch(Path.Combine(resultsDirectory, "prefetch.json"));
        double? serveBytesPerSecond = ReadServeGetRate(Path.Combine(resultsDirectory, "server.json"));
        foreach (CaseResult c in cases)
        {
            if (c.Case == "NoCache")
                continue;
            string state = Tiers.First(t => t.Case == c.Case).PrefetchState;
            double fixedMs = Math.Max(0, c.LoadFixedMs ?? 0);
            foreach (string codec in new[] { "raw", "ans" })
            {
                // Measured on 8B-class records by the prefetch harness (store → decoded destination), and for the server its
                // 32 MiB gets over loopback, in series with decoding from the memory tier.
                if (prefetch.TryGetValue((codec, state), out var measured))
                {
                    // Raw: the prefetch harness's record bytes. Ans: its synthetic chunks compress far better than real KV,
                    // so the bytes are the layout's at this run's (real KV) ans/raw ratio; its decode rate (bound by
                    // elements, not bytes) is kept.
                    double bytesPerToken = codec == "raw" ? measured.BytesPerToken : RawBytesPerToken * runAnsRatio;
                    double tps = measured.TokensPerSecond;
                    string source = $"bench/results/prefetch.json, 8b-{codec}, {state}: store to decoded destination, llama.cpp state import not included";
                    bool usable = true;
                    if (c.Case == "Serve")
                    {
                        if (serveBytesPerSecond is { } get)
                        {
                            double transfer = get / bytesPerToken;
                            tps = 1 / (1 / transfer + 1 / measured.TokensPerSecond);
                            source = $"bench/results/server.json kvtier serve 32 MiB gets over loopback ({get / (1 << 20):F0} MiB/s), in series with prefetch.json 8b-{codec} memory-tier decode";
                        }
                        else
                        {
                            usable = false;
                        }
                    }
                    if (usable)
                        rows.AddRange(Rows(c.Case, codec, bytesPerToken, tps, fixedMs, primary: true, source));
                }
                // This run's marginal rate on the tiny model, applied to 8B-class bytes (pessimistic: 16-token chunks of
                // 1 KiB sections are dominated by per-section costs, and it includes the llama.cpp state import).
                if (c.MarginalLoadBytesPerSecond is { } runRate)
                {
                    double bytesPerToken = codec == "raw" ? RawBytesPerToken : RawBytesPerToken * runAnsRatio;
                    rows.AddRange(Rows(c.Case, codec, bytesPerToken, runRate / bytesPerToken, fixedMs, primary: false,
                        $"this run's marginal load rate of {runRate / 1e6:F1} MB/s on stories260K raw records ({runRawBytesPerToken:F0} B/token), applied to 8B-class bytes{(codec == "ans" ? $" at this run's ans/raw size ratio {runAnsRatio:F3}" : "")}"));
                }
            }
        }
        return new Projection(
            "PROJECTED, not measured: no 8B-class model was run. TTFT(compute) = prompt / published prefill rate; TTFT(load) = this run's fixed load cost of the tier + prompt / load rate (the last token's evaluation, the same in both, is left out).",
            "32 layers, 8 KV heads x 128, fp16 (Llama-3-8B-class)", RawBytesPerToken,
            "Prefill rates: published llama.cpp figures for 8B models on other machines (quantized weights, as usually served), cited. Load rates: measured on this 2-core machine for 8B-class records "
            + "(prefetch.json: synthetic 8B-class chunks of 256 tokens, raw fp16 and ans default level) without llama.cpp's state import (a copy of 128 KiB per token into the engine); loads and prefill are assumed not to overlap; "
            + "ans rows: bytes per token at this run's ans/raw record size ratio (real KV of the tiny model; the prefetch harness's synthetic chunks compress about 3x further), decode rate from the prefetch harness. Non-primary rows apply this run's tiny-model load rates instead.",
            ExamplePromptTokens, Published, rows);
    }

    private static IEnumerable<ProjectionRow> Rows(string tier, string codec, double bytesPerToken, double loadTps, double fixedMs, bool primary, string source)
    {
        foreach (PublishedPrefill p in Published)
        {
            double computeMs = ExamplePromptTokens / p.TokensPerSecond * 1e3;
            double loadMs = fixedMs + ExamplePromptTokens / loadTps * 1e3;
            double gainPerToken = 1e3 / p.TokensPerSecond - 1e3 / loadTps;
            yield return new ProjectionRow(tier, codec, p.Name, p.Short, primary, source, bytesPerToken, loadTps, p.TokensPerSecond, loadTps / p.TokensPerSecond,
                computeMs, loadMs, gainPerToken > 0 ? fixedMs / gainPerToken : null);
        }
    }

    // (codec, state) → decoded 8B-class tokens per second and stored bytes per token, from the prefetch harness's JSON.
    private static Dictionary<(string, string), (double, double)> ReadPrefetch(string path)
    {
        var result = new Dictionary<(string, string), (double, double)>();
        if (!File.Exists(path))
            return result;
        using JsonDocument doc = JsonDocument.Parse(File.ReadAllText(path));
        foreach (JsonElement c in doc.RootElement.GetProperty("cases").EnumerateArray())
        {
            string name = c.GetProperty("name").GetString() ?? "";
            if (!name.StartsWith("8b-", StringComparison.Ordinal))
                continue;
            double tokens = c.GetProperty("tokens").GetDouble() * c.GetProperty("chunks").GetDouble();
            double decodedPerToken = c.GetProperty("decodedBytes").GetDouble() / tokens;
            double storedPerToken = c.GetProperty("storedBytes").GetDouble() / tokens;
            foreach (JsonElement s in c.GetProperty("states").EnumerateArray())
            {
                double decodedRate = s.GetProperty("prefetchDecodedBytesPerSecond").GetDouble();
                result[(name[3..], s.GetProperty("state").GetString() ?? "")] = (decodedRate / decodedPerToken, storedPerToken);
            }
        }
        return result;
    }

    private static double? ReadServeGetRate(string path)
    {
        if (!File.Exists(path))
            return null;
        using JsonDocument doc = JsonDocument.Parse(File.ReadAllText(path));
        foreach (JsonElement s in doc.RootElement.GetProperty("systems").EnumerateArray())
        {
            if (s.GetProperty("name").GetString() == "kvtier serve")
                return s.GetProperty("largeGetMiBps").GetDouble() * (1 << 20);
        }
        return null;
    }
}
