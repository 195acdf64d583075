namespace KvTier.Reference;

/// <summary>One position of greedy generation, as llama2.c's <c>generate</c> loop runs it.</summary>
/// <param name="Position">The position computed.</param>
/// <param name="Token">The token fed at <paramref name="Position"/>.</param>
/// <param name="Next">The token that follows: the next prompt token while the prompt lasts, else the argmax of the logits.</param>
/// <param name="NextFromPrompt">True when <paramref name="Next"/> came from the prompt.</param>
/// <param name="Printed">
/// The bytes llama2.c prints for this step: <c>decode(Token, Next)</c> cut at its first NUL and dropped when it is
/// a single byte that is neither printable ASCII nor whitespace (llama2.c's <c>safe_printf</c>); empty when
/// <paramref name="Next"/> is BOS, which ends generation. Owned by the tokenizer: do not write to it.
/// </param>
public readonly record struct GenerationStep(int Position, int Token, int Next, bool NextFromPrompt, ReadOnlyMemory<byte> Printed);
