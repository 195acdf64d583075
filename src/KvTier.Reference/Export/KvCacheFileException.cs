namespace KvTier.Reference;

/// <summary>A safetensors file that is valid safetensors but not a valid KvTier KV-cache file (format-spec/kv-safetensors.md).</summary>
public sealed class KvCacheFileException : KvTierFormatException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">What is wrong.</param>
    /// <param name="source">The file path; null when unknown.</param>
    /// <param name="innerException">The underlying error, if any.</param>
    public KvCacheFileException(string message, string? source = null, Exception? innerException = null)
        : base(message, source, -1, innerException)
    {
    }
}
