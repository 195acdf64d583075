using System.Globalization;
using KvTier.Blend;
using KvTier.Keys;
using KvTier.Prefetch;
using KvTier.Reference;
using KvTier.Storage;
using Spectre.Console;

namespace KvTier.Cli.Commands;

// The RAG walk-through (issue 6 §4): documents stored once, blended in a new order, quality and work saved shown.
internal static partial class DemoCommand
{
    private const int RagDocuments = 4;
    private const int RagDocumentTokens = 48;
    private const int RagSteps = 32;

    // Stored in their own namespace, so that they never mix with the demo's prefix-cached requests.
    private const string RagNamespace = "demo-rag";

    private static readonly int[] RagOrder = [2, 0, 3, 1];

    /// <summary>
    /// Stores a few documents the model wrote, each computed once right after a system prompt, then asks for a prompt
    /// that puts them in another order behind the same system prompt: the blender gathers them from the store,
    /// re-rotates their keys to their new positions, and the reference engine recomputes the 15 % of positions whose KV
    /// deviates most. Compared with a full prefill, prefix caching, reuse without recomputation and reuse without
    /// re-rotation.
    /// </summary>
    private static void ReportBlend(IAnsiConsole console, LlamaModel model, string directory)
    {
        var keys = new ChunkKeys(model.ModelId, model.Layout, RagNamespace);
        RagCorpus corpus = RagCorpus.Generate(model, [.. RagCorpus.DefaultSeeds.Take(RagDocuments)], RagDocumentTokens);
        if (corpus.Prompt(RagOrder).Length + RagSteps > model.Config.SeqLen)
            return;

        using KvStore store = KvStore.Open(DemoStoreOptions(directory));
        RagStore.StoreCorpus(model, store, keys, corpus);
        console.WriteLine();
        console.MarkupLine($"[bold]RAG walk-through[/]: {corpus.Documents.Count} documents the model wrote, each computed and stored once "
            + $"right after the system prompt \"{Markup.Escape(Text(model, corpus.Prefix))}\" (segment keys, positions {corpus.Prefix.Count} on).");
        for (int d = 0; d < corpus.Documents.Count; d++)
            console.MarkupLine($"  doc {d + 1}: [grey]{Markup.Escape(Preview(model, corpus.Documents[d]))}[/] ({corpus.Documents[d].Length} tokens)");

        using var prefetcher = new Prefetcher(store);
        var blender = new Blender(prefetcher, keys, new BlendOptions { ContextLength = model.Config.SeqLen });
        var unrotated = new Blender(prefetcher, keys, new BlendOptions { ContextLength = model.Config.SeqLen, RerotateKeys = false });
        var evaluation = new BlendEvaluation(model, corpus, RagOrder, RagSteps);
        string order = string.Join(", ", RagOrder.Select(d => $"doc {d + 1}"));
        console.MarkupLine($"New prompt: system prompt, then {order}, then \"{Markup.Escape(Text(model, corpus.Question))}\" "
            + $"({evaluation.Prompt.Length} tokens); quality over the next {RagSteps} positions against a full prefill.");

        var rows = new (string Name, BlendOutcome Outcome)[]
        {
            ("full prefill", evaluation.FullPrefill()),
            ("prefix cache (system prompt + 1st doc)", evaluation.PrefixOnly()),
            ("blend, none recomputed", Wait(evaluation.BlendAsync(blender, (RecomputeOptions?)null))),
            ("blend, 15% recomputed", Wait(evaluation.BlendAsync(blender, new RecomputeOptions()))),
            ("blend 15%, keys not re-rotated", Wait(evaluation.BlendAsync(unrotated, new RecomputeOptions()))),
        };
        var table = new Table().Border(TableBorder.Rounded).Title("The same prompt, five ways");
        table.AddColumns("KV from", "computed", "work saved", "mean KL", "greedy continuation");
        foreach ((string name, BlendOutcome outcome) in rows)
        {
            table.AddRow(
                Markup.Escape(name),
                $"{outcome.RecomputedTokens} of {evaluation.Prompt.Length}",
                outcome.WorkSaved.ToString("P1", CultureInfo.InvariantCulture),
                outcome.MeanKl.ToString("E2", CultureInfo.InvariantCulture),
                outcome.GreedyMatches ? "[green]identical[/]" : "[yellow]differs[/]");
        }

        console.Write(table);
        console.MarkupLine("Blending reuses documents wherever they appear; the positions it recomputes restore the attention between documents "
            + "that separately computed caches lack (bench/results/blend.json measures this over many prompts).");
    }

    private static BlendOutcome Wait(Task<BlendOutcome> outcome) => outcome.GetAwaiter().GetResult();

    private static string Text(LlamaModel model, IReadOnlyList<int> tokens) => model.Tokenizer.Decode([.. tokens.Where(t => t != Reference.Tokenizer.Bos)]).Trim();

    private static string Preview(LlamaModel model, IReadOnlyList<int> tokens)
    {
        string text = Text(model, tokens).ReplaceLineEndings(" ");
        return text.Length <= 70 ? text : text[..70] + "…";
    }
}
