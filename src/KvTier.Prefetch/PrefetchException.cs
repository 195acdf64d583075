namespace KvTier.Prefetch;

/// <summary>A prefetcher was misconfigured or a request could not run; <see cref="Kind"/> says why.</summary>
public sealed class PrefetchException : Exception
{
    /// <summary>Creates the exception.</summary>
    /// <param name="kind">Why.</param>
    /// <param name="message">What happened, naming the option or chunk concerned.</param>
    /// <param name="innerException">The underlying error, if any.</param>
    public PrefetchException(PrefetchErrorKind kind, string message, Exception? innerException = null)
        : base(message, innerException)
    {
        Kind = kind;
    }

    /// <summary>Why the call failed.</summary>
    public PrefetchErrorKind Kind { get; }
}
