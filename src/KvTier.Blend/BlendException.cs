namespace KvTier.Blend;

/// <summary>A blend plan, a stored chunk or the engine's KV does not fit together; nothing stored is changed.</summary>
public sealed class BlendException : Exception
{
    /// <summary>Creates the exception.</summary>
    /// <param name="kind">What went wrong.</param>
    /// <param name="message">A message naming the entry, layer or token concerned.</param>
    public BlendException(BlendErrorKind kind, string message)
        : base(message)
    {
        Kind = kind;
    }

    /// <summary>What went wrong.</summary>
    public BlendErrorKind Kind { get; }
}
