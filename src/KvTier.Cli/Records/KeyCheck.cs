namespace KvTier.Cli.Records;

/// <summary>How <see cref="ChunkFiles.Decode"/> vouched for the token ids it wrote.</summary>
internal enum KeyCheck
{
    /// <summary>No token ids were given; the file says <c>tokens_known</c> = <c>false</c>.</summary>
    NoTokens,

    /// <summary>The token ids give the record's key.</summary>
    Matched,

    /// <summary>A prefix key past position 0 also covers earlier tokens, which the file does not have: not checked.</summary>
    NotCheckable,
}
