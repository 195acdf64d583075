namespace KvTier.Reference;

public sealed partial class LlamaSession
{
    /// <summary>
    /// Greedy generation exactly as llama2.c's <c>run model.bin -t 0 -n steps -i prompt</c>: the session restarts at
    /// position 0, feeds BOS and the prompt, then the argmax token, for <paramref name="steps"/> positions in all
    /// (the prompt's included) or until the next token would be BOS.
    /// </summary>
    /// <param name="prompt">The prompt; null or empty for BOS alone.</param>
    /// <param name="steps">Positions to compute (llama2.c's <c>-n</c>), 1 to the context length.</param>
    /// <returns>The tokens fed, the text llama2.c prints, and a copy of the KV cache.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="steps"/> is out of range.</exception>
    public GenerationResult Generate(string? prompt, int steps)
    {
        int[] promptTokens = StartGeneration(prompt, steps);
        var fed = new List<int>(steps);
        var output = new List<byte>(steps * 4 + 1);
        int? finalToken = null;
        foreach (GenerationStep step in Run(promptTokens, steps))
        {
            fed.Add(step.Token);
            output.AddRange(step.Printed.Span);
            finalToken = step.Next == Tokenizer.Bos ? null : step.Next;
        }

        output.Add((byte)'\n'); // llama2.c ends its output with printf("\n")
        return new GenerationResult(promptTokens, [.. fed], finalToken, [.. output], Cache.TakePrefix(Cache.Length));
    }

    /// <summary>
    /// The streaming form of <see cref="Generate"/>: each enumeration step computes one position. Arguments are checked
    /// at once; the session restarts at position 0 when enumeration begins. The final newline llama2.c prints after
    /// the loop is not part of any step.
    /// </summary>
    /// <param name="prompt">The prompt; null or empty for BOS alone.</param>
    /// <param name="steps">Positions to compute, 1 to the context length.</param>
    /// <returns>One <see cref="GenerationStep"/> per position; the last has <see cref="GenerationStep.Next"/> = BOS if generation stopped early.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="steps"/> is out of range.</exception>
    public IEnumerable<GenerationStep> GenerateSteps(string? prompt, int steps) => Run(StartGeneration(prompt, steps), steps);

    private int[] StartGeneration(string? prompt, int steps)
    {
        if (steps < 1 || steps > _config.SeqLen)
            throw new ArgumentOutOfRangeException(nameof(steps), steps, $"Steps must be within [1, {_config.SeqLen}] (the context length).");
        return Model.Tokenizer.Encode(prompt ?? string.Empty, bos: true, eos: false);
    }

    /// <summary>llama2.c's <c>generate</c> loop.</summary>
    private IEnumerable<GenerationStep> Run(int[] promptTokens, int steps)
    {
        Tokenizer tokenizer = Model.Tokenizer;
        Reset();
        int token = promptTokens[0];
        for (int position = 0; position < steps; position++)
        {
            float[] logits = ForwardCore(token, position);
            bool fromPrompt = position < promptTokens.Length - 1;
            int next = fromPrompt ? promptTokens[position + 1] : GreedySampler.Argmax(logits);
            if (next == Tokenizer.Bos)
            {
                yield return new GenerationStep(position, token, next, fromPrompt, ReadOnlyMemory<byte>.Empty);
                yield break;
            }

            yield return new GenerationStep(position, token, next, fromPrompt, Printable(tokenizer.DecodePieceMemory(token, next)));
            token = next;
        }
    }

    /// <summary>
    /// What llama2.c's <c>safe_printf</c> lets through: the piece as a C string (up to its first NUL), nothing if it is
    /// empty or a single byte that is neither printable ASCII nor whitespace (<c>isprint</c>/<c>isspace</c> in the C locale).
    /// </summary>
    internal static ReadOnlyMemory<byte> Printable(ReadOnlyMemory<byte> piece)
    {
        int nul = piece.Span.IndexOf((byte)0);
        if (nul >= 0)
            piece = piece[..nul];
        if (piece.Length == 1)
        {
            byte b = piece.Span[0];
            bool print = b is >= 0x20 and <= 0x7E;
            bool space = b is (byte)' ' or (>= 0x09 and <= 0x0D);
            if (!print && !space)
                return ReadOnlyMemory<byte>.Empty;
        }

        return piece;
    }
}
