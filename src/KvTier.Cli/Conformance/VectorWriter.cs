using KvTier.IO;

namespace KvTier.Cli.Conformance;

/// <summary>Writes generated vectors and their manifest into a folder, replacing an earlier generation.</summary>
internal static class VectorWriter
{
    /// <summary>The sub-folders that hold vectors; stale <c>*.kvt</c> files in them are removed.</summary>
    public static readonly string[] Groups = ["valid", "invalid"];

    /// <summary>
    /// Writes every vector under <paramref name="directory"/> and then <c>manifest.json</c>. Other <c>*.kvt</c> files
    /// under <c>valid/</c> and <c>invalid/</c> (left by an earlier generation) are deleted; nothing else is touched.
    /// </summary>
    public static void Write(string directory, IReadOnlyList<GeneratedVector> vectors)
    {
        var written = new HashSet<string>(StringComparer.Ordinal);
        foreach (string group in Groups)
            Directory.CreateDirectory(Path.Combine(directory, group));
        foreach (GeneratedVector vector in vectors)
        {
            string path = Path.GetFullPath(Path.Combine(directory, vector.Entry.File.Replace('/', Path.DirectorySeparatorChar)));
            AtomicFile.WriteAllBytes(path, vector.Bytes);
            written.Add(path);
        }

        foreach (string group in Groups)
        {
            foreach (string stale in Directory.GetFiles(Path.Combine(directory, group), "*.kvt"))
            {
                if (!written.Contains(Path.GetFullPath(stale)))
                    File.Delete(stale);
            }
        }

        AtomicFile.WriteAllBytes(Path.Combine(directory, ConformanceManifest.FileName), new ConformanceManifest([.. vectors.Select(v => v.Entry)]).ToJson());
    }
}
