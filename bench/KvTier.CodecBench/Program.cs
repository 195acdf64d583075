using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using KvTier.CodecBench;
using KvTier.CodecBench.Candidates;
using KvTier.Format;
using KvTier.Format.Codecs;
using KvTier.Layout;
using KvTier.Reference;

// Size, speed and model quality of every codec on the reference model's real KV, against baselines measured in
// the same run. Usage: dotnet run -c Release --project bench/KvTier.CodecBench -- [--prompts N] [--chunk N]
// [--continuation N] [--out DIR] [--models DIR] [--explore]. Writes DIR/codec.json and DIR/codec-rate-quality.png;
// --explore instead measures quantization choices without a bitstream (DIR/codec-exploration.json).
var options = Options.Parse(args);
LlamaModel model = LlamaModel.Load(ModelDirectory.Locate(options.Models));
Console.WriteLine($"model {model.ModelId}: {model.Layout.Layers} layers x {model.Layout.KvDim} KV width; {options.Prompts} prompts, "
    + $"chunks of {options.Chunk} positions, quality over the next {options.Continuation}");

var corpus = new KvCorpus(model, options.Prompts, options.Chunk, options.Continuation);
if (options.Explore)
{
    Exploration.Run(corpus, options.Out);
    return;
}

long elementsPerChunk = 2L * model.Layout.Layers * options.Chunk * model.Layout.KvDim;

KvLayout f32 = model.Layout;
KvLayout f16 = new(f32.Layers, f32.KvHeads, f32.HeadDim, KvElementType.Float16, f32.Rope, f32.KeysStoredAfterRope);
int[] firstTokens = corpus.Runs[0].Tokens[..options.Chunk];
ChunkRecordMetadata f32Meta = RecordCandidate.MetadataFor(model.ModelId, f32, firstTokens);
ChunkRecordMetadata f16Meta = RecordCandidate.MetadataFor(model.ModelId, f16, firstTokens);

var candidates = new List<ICodecCandidate>
{
    new RecordCandidate("raw-f32", "raw", ChunkCodecs.Raw, 0, f32, f32Meta),
    new RecordCandidate("fp16", "fp16", ChunkCodecs.Raw, 0, f16, f16Meta),
    new ZstdFp16Candidate(3),
    new ZstdFp16Candidate(19),
    new RecordCandidate("q8", "q8", ChunkCodecs.Q8, 0, f32, f32Meta),
    new CacheGenCandidate(),
    new KiviCandidate(),
};
foreach (int level in Enumerable.Range(ChunkCodecs.Ans.MinLevel, ChunkCodecs.Ans.MaxLevel - ChunkCodecs.Ans.MinLevel + 1))
    candidates.Add(new RecordCandidate($"ans-{level}", "ans", ChunkCodecs.Ans, level, f32, f32Meta));

// Warm-up (JIT, tables) on the first prompt, not timed.
foreach (ICodecCandidate candidate in candidates)
    candidate.Run(corpus.Runs[0].ExactCache, options.Chunk);

var rows = new List<(ICodecCandidate Candidate, long Bytes, double Encode, double Decode, double[] Kl, int Matches)>();
foreach (ICodecCandidate candidate in candidates)
{
    long bytes = 0;
    double encode = 0, decode = 0;
    var kl = new double[corpus.Runs.Count];
    int matches = 0;
    for (int i = 0; i < corpus.Runs.Count; i++)
    {
        PromptRun run = corpus.Runs[i];
        CandidateResult result = candidate.Run(run.ExactCache, options.Chunk);
        bytes += result.Bytes;
        encode += result.EncodeSeconds;
        decode += result.DecodeSeconds;
        kl[i] = ContinuationQuality.MeanKl(run.ExactProbabilities,
            ContinuationQuality.NextTokenDistributions(model, result.Decoded, run.Tokens, options.Chunk, options.Continuation));
        matches += ContinuationQuality.GreedyMatches(model, result.Decoded, run.Tokens, options.Chunk, options.Continuation) ? 1 : 0;
    }

    rows.Add((candidate, bytes, encode, decode, kl, matches));
    Console.WriteLine($"  {candidate.Name,-12} done");
}

double totalElements = (double)elementsPerChunk * corpus.Runs.Count;
double BitsOf(string name) => rows.Single(r => r.Candidate.Name == name).Bytes * 8.0 / totalElements;
double fp16Bits = BitsOf("fp16");
double cacheGenBits = BitsOf("cachegen");
List<CandidateSummary> summaries = rows.Select(r =>
{
    double bits = r.Bytes * 8.0 / totalElements;
    return new CandidateSummary(r.Candidate.Name, r.Candidate.Family, bits, fp16Bits / bits, cacheGenBits / bits,
        totalElements / r.Encode, totalElements / r.Decode, r.Kl.Average(), r.Kl.Max(), r.Matches / (double)corpus.Runs.Count, r.Bytes);
}).ToList();

Report.PrintTable(summaries);
double wideDecode = WideLayoutThroughput.DecodeElementsPerSecond(corpus, ChunkCodecs.Ans.DefaultLevel, KvElementType.Float32);
double wideDecodeF16 = WideLayoutThroughput.DecodeElementsPerSecond(corpus, ChunkCodecs.Ans.DefaultLevel, KvElementType.Float16);
Console.WriteLine();
Console.WriteLine($"ans-{ChunkCodecs.Ans.DefaultLevel} decode on an 8B-class layout (256 tokens x 8 KV heads x 128, real KV tiled across channels), one core: "
    + $"{wideDecode:E2} elements/s to f32, {wideDecodeF16:E2} to f16");
Targets targets = Targets.Evaluate(summaries, ChunkCodecs.Ans.DefaultLevel, wideDecode);
targets.Print();

Directory.CreateDirectory(options.Out);
string json = Path.Combine(options.Out, "codec.json");
File.WriteAllText(json, JsonSerializer.Serialize(new
{
    benchmark = "kvtier codec rate-quality",
    model = model.ModelId,
    layout = new { model.Layout.Layers, model.Layout.KvHeads, model.Layout.HeadDim },
    prompts = corpus.Runs.Select(r => r.Prompt).ToArray(),
    chunkTokens = options.Chunk,
    continuationTokens = options.Continuation,
    elementsPerChunk,
    machine = new { Environment.ProcessorCount, os = Environment.OSVersion.VersionString, runtime = Environment.Version.ToString() },
    candidates = summaries,
    wideLayoutDecodeElementsPerSecond = new { f32 = wideDecode, f16 = wideDecodeF16 },
    targets,
}, new JsonSerializerOptions { WriteIndented = true }));
string png = Path.Combine(options.Out, "codec-rate-quality.png");
Report.Plot(summaries, png);
Console.WriteLine($"wrote {json} and {png}");

/// <summary>Command-line options.</summary>
internal sealed record Options(int Prompts, int Chunk, int Continuation, string Out, string? Models, bool Explore)
{
    public static Options Parse(string[] args)
    {
        int prompts = 24, chunk = 256, continuation = 32;
        string output = Path.Combine(FindBench(), "results");
        string? models = null;
        bool explore = false;
        for (int i = 0; i < args.Length; i++)
        {
            if (args[i] == "--explore")
            {
                explore = true;
                continue;
            }

            string value = i + 1 < args.Length ? args[i + 1] : throw new ArgumentException($"{args[i]} needs a value.");
            switch (args[i])
            {
                case "--prompts": prompts = int.Parse(value, CultureInfo.InvariantCulture); i++; break;
                case "--chunk": chunk = int.Parse(value, CultureInfo.InvariantCulture); i++; break;
                case "--continuation": continuation = int.Parse(value, CultureInfo.InvariantCulture); i++; break;
                case "--out": output = value; i++; break;
                case "--models": models = value; i++; break;
                default: throw new ArgumentException($"Unknown option {args[i]}.");
            }
        }

        return new Options(prompts, chunk, continuation, output, models, explore);
    }

    private static string FindBench()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "KvTier.sln")))
                return Path.Combine(dir.FullName, "bench");
        }

        return Environment.CurrentDirectory;
    }
}
