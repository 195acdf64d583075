namespace KvTier.Cli.Conformance;

/// <summary>One entry of <c>manifest.json</c> (format-spec/vectors/README.md).</summary>
/// <param name="File">Path relative to the manifest's folder, with '/' separators (<c>valid/…</c>, <c>invalid/…</c>).</param>
/// <param name="Sha256">SHA-256 of the file (lowercase hex).</param>
/// <param name="Section">The section of format-spec/kvtier-format.md the vector exercises.</param>
/// <param name="Description">What the vector is, for people.</param>
/// <param name="Expect">What a decoder must do with it.</param>
internal sealed record ConformanceVector(string File, string Sha256, string Section, string Description, VectorExpectation Expect);
