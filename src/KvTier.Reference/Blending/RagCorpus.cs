namespace KvTier.Reference;

/// <summary>
/// Retrieval-augmented prompts built from the model's own text: a short system prompt, documents the model wrote from
/// different opening lines (each greedy, so each is text the model finds natural), and a question that follows them.
/// The material of the blend benchmark, tests and demo: any order of any documents behind the system prompt is a prompt
/// whose document KV was computed elsewhere.
/// </summary>
/// <remarks>Immutable; safe to share.</remarks>
public sealed class RagCorpus
{
    /// <summary>Opening lines the default corpus grows its documents from.</summary>
    public static IReadOnlyList<string> DefaultSeeds { get; } =
    [
        "Lily found a red ball", "Tom and his dog went to the park", "The little bird wanted to fly",
        "Sam had a big box", "Once there was a cat named Tim", "Mia liked to paint", "The sun was hot",
        "Ben saw a frog", "Anna went to the sea", "A small car drove fast", "The boy had a toy boat",
        "Sue wanted a cake",
    ];

    private readonly int[][] _documents;

    private RagCorpus(int[] prefix, int[][] documents, int[] question)
    {
        Prefix = prefix;
        _documents = documents;
        Question = question;
    }

    /// <summary>BOS and the system prompt: reused exactly, as a prefix.</summary>
    public IReadOnlyList<int> Prefix { get; }

    /// <summary>The documents' tokens (no BOS), each computed and stored once after <see cref="Prefix"/>.</summary>
    public IReadOnlyList<int[]> Documents => _documents;

    /// <summary>The question after the documents (no BOS): computed in full.</summary>
    public IReadOnlyList<int> Question { get; }

    /// <summary>Grows one document per seed: greedy generation from BOS and the seed, <paramref name="documentTokens"/> tokens (fewer if the story ends).</summary>
    /// <param name="model">The model.</param>
    /// <param name="seeds">Opening lines, at least one.</param>
    /// <param name="documentTokens">Tokens per document (the seed's included), 2 to 256.</param>
    /// <param name="systemPrompt">The shared system prompt.</param>
    /// <param name="question">The text after the documents.</param>
    /// <returns>The corpus.</returns>
    public static RagCorpus Generate(LlamaModel model, IReadOnlyList<string> seeds, int documentTokens = 64, string systemPrompt = "Here are some stories.", string question = "Once upon a time")
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(seeds);
        if (seeds.Count == 0)
            throw new ArgumentException("At least one seed is needed.", nameof(seeds));
        ArgumentOutOfRangeException.ThrowIfLessThan(documentTokens, 2);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(documentTokens, 256);
        LlamaSession session = model.CreateSession();
        var documents = new int[seeds.Count][];
        for (int i = 0; i < seeds.Count; i++)
        {
            // The fed tokens are BOS, the seed, then what the model wrote: the document is all but BOS.
            GenerationResult story = session.Generate(seeds[i], documentTokens + 1);
            documents[i] = [.. story.FedTokens.Skip(1)];
        }

        return new RagCorpus(model.Tokenizer.Encode(systemPrompt, bos: true), documents, model.Tokenizer.Encode(question, bos: false));
    }

    /// <summary>The prompt for documents in <paramref name="order"/>: prefix, documents, question.</summary>
    /// <param name="order">Document indices, any order, repeats allowed.</param>
    /// <returns>The tokens.</returns>
    public int[] Prompt(IReadOnlyList<int> order)
    {
        ArgumentNullException.ThrowIfNull(order);
        var tokens = new List<int>(Prefix);
        foreach (int document in order)
            tokens.AddRange(_documents[document]);
        tokens.AddRange(Question);
        return [.. tokens];
    }
}
