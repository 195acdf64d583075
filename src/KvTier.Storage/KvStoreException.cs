namespace KvTier.Storage;

/// <summary>A store could not be opened or an operation could not be done; <see cref="Kind"/> says why.</summary>
public sealed class KvStoreException : Exception
{
    /// <summary>Creates the exception.</summary>
    /// <param name="kind">Why.</param>
    /// <param name="message">What happened, naming the option, file or key concerned.</param>
    /// <param name="innerException">The underlying error, if any.</param>
    public KvStoreException(StoreErrorKind kind, string message, Exception? innerException = null)
        : base(message, innerException)
    {
        Kind = kind;
    }

    /// <summary>Why the operation failed.</summary>
    public StoreErrorKind Kind { get; }
}
