namespace KvTier.Reference;

/// <summary>
/// The model files could not be found: a configuration problem, not corrupt input, so this does not
/// derive from <see cref="KvTierFormatException"/>. The message is one line naming the places searched.
/// </summary>
public sealed class ModelNotFoundException : Exception
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">One line: what was looked for, where, and how to point at the files.</param>
    /// <param name="searched">The directories or files that were examined, in search order.</param>
    public ModelNotFoundException(string message, IReadOnlyList<string>? searched = null)
        : base(message)
    {
        Searched = searched ?? [];
    }

    /// <summary>The directories or files that were examined, in search order.</summary>
    public IReadOnlyList<string> Searched { get; }
}
