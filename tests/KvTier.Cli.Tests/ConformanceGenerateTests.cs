using KvTier.Cli.Conformance;
using KvTier.Format;
using KvTier.Format.Codecs;
using KvTier.Layout;
using Xunit;

namespace KvTier.Cli.Tests;

/// <summary>
/// <c>kvtier conformance generate</c> is deterministic: regenerating gives the committed vectors byte for byte, so
/// the committed files are exactly what the code says, and they cover what the spec asks.
/// </summary>
public sealed class ConformanceGenerateTests : IDisposable
{
    private const string Regenerate = "Run `kvtier conformance generate format-spec/vectors` and commit the result (a codec added or changed, or the generator changed).";

    private readonly string _dir = Directory.CreateTempSubdirectory("kvtier-generate-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static string[] VectorFiles(string root) =>
        [.. VectorWriter.Groups.SelectMany(g => Directory.GetFiles(Path.Combine(root, g), "*.kvt")).Select(f => Path.GetRelativePath(root, f).Replace('\\', '/')).Order(StringComparer.Ordinal)];

    [Fact]
    public void Regenerating_gives_the_committed_files_byte_for_byte()
    {
        CliResult result = CliRunner.Run("conformance", "generate", _dir);

        Assert.Equal(0, result.ExitCode);
        string[] generated = VectorFiles(_dir);
        string[] committed = VectorFiles(CommittedVectors.Directory);
        Assert.True(generated.SequenceEqual(committed),
            $"This build generates other vectors than are committed (new: {string.Join(", ", generated.Except(committed).Take(5))}; gone: {string.Join(", ", committed.Except(generated).Take(5))}). {Regenerate}");
        foreach (string file in generated)
        {
            Assert.True(File.ReadAllBytes(Path.Combine(_dir, file)).AsSpan().SequenceEqual(File.ReadAllBytes(Path.Combine(CommittedVectors.Directory, file))),
                $"{file} differs from the committed vector. {Regenerate}");
        }

        Assert.True(File.ReadAllText(Path.Combine(CommittedVectors.Directory, "manifest.json")) == File.ReadAllText(Path.Combine(_dir, "manifest.json")),
            $"manifest.json differs from the committed one. {Regenerate}");
    }

    [Fact]
    public void Generating_again_replaces_stale_vectors_and_keeps_other_files()
    {
        Directory.CreateDirectory(Path.Combine(_dir, "invalid"));
        File.WriteAllText(Path.Combine(_dir, "invalid", "renamed-long-ago.kvt"), "stale");
        File.WriteAllText(Path.Combine(_dir, "README.md"), "kept");

        Assert.Equal(0, CliRunner.Run("conformance", "generate", _dir).ExitCode);

        Assert.False(File.Exists(Path.Combine(_dir, "invalid", "renamed-long-ago.kvt")));
        Assert.Equal("kept", File.ReadAllText(Path.Combine(_dir, "README.md")));
        Assert.Equal(ConformanceManifest.Read(Path.Combine(_dir, "manifest.json")).Vectors.Select(v => v.File).Order(StringComparer.Ordinal), VectorFiles(_dir));
    }

    [Fact]
    public void The_vectors_cover_every_codec_level_and_element_type_and_every_error_kind()
    {
        ConformanceManifest manifest = ConformanceManifest.Read(Path.Combine(CommittedVectors.Directory, "manifest.json"));
        var valid = manifest.Vectors.Where(v => v.Expect.ExpectsDecode).Select(v => v.Expect).ToArray();
        foreach (CodecInfo codec in ChunkCodecs.All.Where(VectorGenerator.IsAvailable))
        {
            for (int level = codec.MinLevel; level <= codec.MaxLevel; level++)
            {
                foreach (KvElementType type in new[] { KvElementType.Float32, KvElementType.Float16, KvElementType.BFloat16 })
                {
                    Assert.True(valid.Any(e => e.Codec == codec.Name && e.Level == level && e.ElementType == LayoutNames.Of(type)),
                        $"No valid vector for {codec.Name} level {level} {LayoutNames.Of(type)}. {Regenerate}");
                }
            }
        }

        string[] kinds = [.. manifest.Vectors.Where(v => !v.Expect.ExpectsDecode).Select(v => v.Expect.ErrorKind!)];
        Assert.All(Enum.GetNames<ChunkRecordErrorKind>(), kind => Assert.Contains(kind, kinds));
        Assert.Equal(manifest.Vectors.Count, manifest.Vectors.Select(v => v.File).Distinct(StringComparer.Ordinal).Count());
        Assert.All(manifest.Vectors, v => Assert.Matches(@"^(valid|invalid)/[a-z0-9-]+\.kvt$", v.File));
    }

    [Fact]
    public void The_vectors_stay_small()
    {
        long total = 0;
        foreach (string file in VectorFiles(CommittedVectors.Directory))
        {
            long length = new FileInfo(Path.Combine(CommittedVectors.Directory, file)).Length;
            Assert.True(length < 300 * 1024, $"{file} is {length} bytes");
            total += length;
        }

        Assert.True(total < 3 * 1024 * 1024, $"the vectors take {total} bytes");
    }
}
