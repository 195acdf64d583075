namespace KvTier.LlamaSharp.State;

/// <summary>
/// A llama.cpp sequence state blob that KvTier cannot read or must not load: truncated, oversized, of another format
/// version, of another model shape (layer count, KV width), or holding an element type other than F32 or F16.
/// The message says what is wrong and <see cref="KvTierFormatException.Offset"/> where it was found.
/// </summary>
public sealed class LlamaStateFormatException : KvTierFormatException
{
    /// <summary>What <see cref="KvTierFormatException.SourceName"/> says for every blob.</summary>
    public const string SourceDescription = "llama.cpp sequence state";

    /// <summary>Creates the exception.</summary>
    /// <param name="message">What is wrong.</param>
    /// <param name="offset">Byte offset in the blob at which the problem was found; -1 for the blob as a whole.</param>
    public LlamaStateFormatException(string message, long offset = -1)
        : base(message, SourceDescription, offset)
    {
    }
}
