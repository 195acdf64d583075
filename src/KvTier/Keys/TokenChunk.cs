namespace KvTier.Keys;

/// <summary>
/// One chunk of a token sequence: tokens <c>[Start, Start + Count)</c>. Every chunk but possibly the last
/// holds exactly the configured chunk size; a shorter last chunk is <see cref="IsPartial"/>.
/// </summary>
/// <param name="Index">Zero-based index of the chunk in the sequence.</param>
/// <param name="Start">Position of the chunk's first token in the sequence.</param>
/// <param name="Count">Number of tokens in the chunk, at least 1.</param>
/// <param name="IsPartial">True for a trailing chunk shorter than the chunk size.</param>
public readonly record struct TokenChunk(int Index, int Start, int Count, bool IsPartial)
{
    /// <summary>Position one past the chunk's last token.</summary>
    public int End => Start + Count;
}
