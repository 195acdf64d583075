namespace KvTier.Tensors;

/// <summary>
/// A safetensors file that KvTier will not read: truncated, malformed header, inconsistent tensor
/// entries, or over a reader limit. <see cref="KvTierFormatException.Offset"/> is the absolute byte
/// offset in the file (header JSON starts at byte 8) where the problem was found.
/// </summary>
public sealed class SafetensorsFormatException : KvTierFormatException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">What is wrong, in the format's terms.</param>
    /// <param name="source">The file path or other name of what was read; null when unknown.</param>
    /// <param name="offset">Absolute byte offset at which the problem was detected; -1 when it applies to the whole file.</param>
    /// <param name="innerException">The underlying error, if any.</param>
    public SafetensorsFormatException(string message, string? source = null, long offset = -1, Exception? innerException = null)
        : base(message, source, offset, innerException)
    {
    }
}
