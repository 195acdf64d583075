namespace KvTier.Storage.Segments;

/// <summary>A segment file's header or a frame in it is not valid (format-spec/segment-file.md); carries the file and offset.</summary>
public sealed class SegmentFormatException : KvTierFormatException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">What is wrong.</param>
    /// <param name="path">The segment file.</param>
    /// <param name="offset">Where in the file.</param>
    public SegmentFormatException(string message, string? path, long offset)
        : base(message, path, offset)
    {
    }
}
