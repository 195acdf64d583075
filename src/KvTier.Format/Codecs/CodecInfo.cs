namespace KvTier.Format.Codecs;

/// <summary>A codec's name, levels and nature, as <c>kvtier codecs</c> lists them.</summary>
/// <param name="Id">The codec id written in records.</param>
/// <param name="Name">The name used on the command line.</param>
/// <param name="MinLevel">Smallest level.</param>
/// <param name="MaxLevel">Largest level.</param>
/// <param name="DefaultLevel">The level used when none is given.</param>
/// <param name="Lossless">True when decoding returns the input bit for bit.</param>
/// <param name="Description">One line for people.</param>
public sealed record CodecInfo(CodecId Id, string Name, int MinLevel, int MaxLevel, int DefaultLevel, bool Lossless, string Description)
{
    /// <summary>Whether <paramref name="level"/> is a level of this codec.</summary>
    public bool HasLevel(int level) => level >= MinLevel && level <= MaxLevel;
}
