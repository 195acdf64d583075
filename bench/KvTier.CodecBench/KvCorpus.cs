using KvTier.Reference;

namespace KvTier.CodecBench;

/// <summary>
/// The benchmark's real KV: for each prompt, the reference model's greedy run, the exact cache of its first
/// <c>chunk</c> positions, and what the model does next from that exact cache (next-token distributions over the
/// following positions, teacher-forced, and its greedy continuation).
/// </summary>
internal sealed class KvCorpus
{
    /// <summary>Story openings in the style of TinyStories; the model continues each for chunk + continuation positions.</summary>
    private static readonly string[] Openings =
    [
        "Once upon a time", "One day, a little girl named Lily", "Tom and Sue went to the park", "There was a big red ball",
        "The cat was sleeping in the sun", "Ben had a new toy car", "Mom said it was time for bed", "A little bird lived in a tree",
        "The dog wanted to play", "Sara found a shiny stone", "It was a rainy day", "Max liked to build with blocks",
        "The sun was hot and bright", "Anna and her friend baked a cake", "A small fish swam in the pond", "The boy saw a big truck",
        "Grandma told a story", "The little bear was hungry", "Tim lost his hat", "The flowers in the garden were pretty",
        "A kind man helped the girl", "The frog jumped into the water", "Lucy wanted to fly a kite", "The children sang a song",
        "Jack climbed the tall hill", "The puppy ran after the ball", "Mia drew a picture of her family", "The old car would not start",
        "Sam and his dad went fishing", "The princess lived in a castle",
    ];

    public KvCorpus(LlamaModel model, int prompts, int chunk, int continuation)
    {
        Model = model;
        Chunk = chunk;
        Continuation = continuation;
        int positions = chunk + continuation + 1;
        var runs = new List<PromptRun>();
        foreach (string opening in Openings)
        {
            if (runs.Count == prompts)
                break;
            (int[] tokens, KvCache cache) = GreedyRun(model, opening, positions);
            runs.Add(PromptRun.Create(model, opening, tokens, cache.TakePrefix(chunk), chunk, continuation));
        }

        if (runs.Count < prompts)
            throw new InvalidOperationException($"There are {Openings.Length} openings; {prompts} prompts were asked for.");
        Runs = runs;
    }

    public LlamaModel Model { get; }

    /// <summary>
    /// Greedy decoding for exactly <paramref name="positions"/> positions. Unlike llama2.c's run it does not stop at BOS:
    /// the model then starts another story, as a long multi-document context would.
    /// </summary>
    private static (int[] Tokens, KvCache Cache) GreedyRun(LlamaModel model, string prompt, int positions)
    {
        int[] promptTokens = model.Tokenizer.Encode(prompt);
        var tokens = new int[positions];
        LlamaSession session = model.CreateSession();
        int token = promptTokens[0];
        for (int position = 0; position < positions; position++)
        {
            tokens[position] = token;
            ReadOnlySpan<float> logits = session.Forward(token, position);
            token = position + 1 < promptTokens.Length ? promptTokens[position + 1] : GreedySampler.Argmax(logits);
        }

        return (tokens, session.Cache);
    }

    public int Chunk { get; }

    public int Continuation { get; }

    public IReadOnlyList<PromptRun> Runs { get; }
}

/// <summary>One prompt's exact run.</summary>
/// <param name="Prompt">The opening text.</param>
/// <param name="Tokens">Tokens fed at positions 0 to chunk + continuation.</param>
/// <param name="ExactCache">The exact KV of positions [0, chunk).</param>
/// <param name="ExactProbabilities">Next-token distributions after feeding positions chunk … chunk + continuation − 1 from the exact cache.</param>
internal sealed record PromptRun(string Prompt, int[] Tokens, KvCache ExactCache, float[][] ExactProbabilities)
{
    public static PromptRun Create(LlamaModel model, string prompt, int[] tokens, KvCache exactCache, int chunk, int continuation)
    {
        return new PromptRun(prompt, tokens, exactCache, ContinuationQuality.NextTokenDistributions(model, exactCache, tokens, chunk, continuation));
    }
}
