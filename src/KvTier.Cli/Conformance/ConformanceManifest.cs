using System.Text.Encodings.Web;
using System.Text.Json;

namespace KvTier.Cli.Conformance;

/// <summary>
/// <c>format-spec/vectors/manifest.json</c>: the list of conformance vectors and what a decoder must do with each.
/// Written deterministically (fixed property order, two-space indentation, LF line ends) so that regenerating it
/// gives the same bytes. Schema: format-spec/vectors/README.md.
/// </summary>
/// <param name="Vectors">The vectors, valid ones first, each group in generation order.</param>
internal sealed record ConformanceManifest(IReadOnlyList<ConformanceVector> Vectors)
{
    /// <summary>The value of the <c>format</c> field.</summary>
    public const string FormatName = "kvtier-conformance/1";

    /// <summary>The value of the <c>spec</c> field.</summary>
    public const string SpecPath = "format-spec/kvtier-format.md";

    /// <summary>The manifest's file name inside the vectors folder.</summary>
    public const string FileName = "manifest.json";

    /// <summary>The manifest as UTF-8 JSON, ending with a newline.</summary>
    public byte[] ToJson()
    {
        using var buffer = new MemoryStream();
        var options = new JsonWriterOptions { Indented = true, NewLine = "\n", Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
        using (var json = new Utf8JsonWriter(buffer, options))
        {
            json.WriteStartObject();
            json.WriteString("format", FormatName);
            json.WriteString("spec", SpecPath);
            json.WriteStartArray("vectors");
            foreach (ConformanceVector v in Vectors)
            {
                json.WriteStartObject();
                json.WriteString("file", v.File);
                json.WriteString("sha256", v.Sha256);
                json.WriteString("section", v.Section);
                json.WriteString("description", v.Description);
                json.WriteStartObject("expect");
                VectorExpectation e = v.Expect;
                json.WriteString("outcome", e.Outcome);
                if (e.ExpectsDecode)
                {
                    json.WriteString("decodedSha256", e.DecodedSha256);
                    json.WriteString("elementsSha256", e.ElementsSha256);
                    json.WriteString("codec", e.Codec);
                    json.WriteNumber("level", e.Level!.Value);
                    json.WriteString("elementType", e.ElementType);
                    json.WriteNumber("layers", e.Layers!.Value);
                    json.WriteNumber("kvDim", e.KvDim!.Value);
                    json.WriteNumber("tokens", e.Tokens!.Value);
                }
                else
                {
                    json.WriteString("errorKind", e.ErrorKind);
                }

                json.WriteEndObject();
                json.WriteEndObject();
            }

            json.WriteEndArray();
            json.WriteEndObject();
        }

        buffer.WriteByte((byte)'\n');
        return buffer.ToArray();
    }

    /// <summary>Largest manifest read, in bytes: far above any real one (a few hundred bytes per vector).</summary>
    public const long MaxManifestBytes = 64L << 20;

    /// <summary>Reads and checks a manifest file.</summary>
    /// <exception cref="InvalidDataException">The file is not a manifest of this format.</exception>
    /// <exception cref="IOException">The file cannot be read.</exception>
    public static ConformanceManifest Read(string path)
    {
        var info = new FileInfo(path);
        if (!info.Exists)
            throw new FileNotFoundException($"{path}: no such file.", path);
        if (info.Length > MaxManifestBytes)
            throw new InvalidDataException($"{path}: {info.Length} bytes is more than a manifest may have ({MaxManifestBytes}).");
        try
        {
            using JsonDocument document = JsonDocument.Parse(File.ReadAllBytes(path));
            JsonElement root = document.RootElement;
            string format = root.GetProperty("format").GetString() ?? "";
            if (format != FormatName)
                throw new InvalidDataException($"{path}: format \"{format}\" is not {FormatName}.");
            var vectors = new List<ConformanceVector>();
            foreach (JsonElement v in root.GetProperty("vectors").EnumerateArray())
            {
                JsonElement e = v.GetProperty("expect");
                string outcome = Text(e, "outcome");
                VectorExpectation expect = outcome switch
                {
                    VectorExpectation.DecodeOutcome => new VectorExpectation(outcome,
                        DecodedSha256: Text(e, "decodedSha256"),
                        ElementsSha256: Text(e, "elementsSha256"),
                        Codec: Text(e, "codec"),
                        Level: e.GetProperty("level").GetInt32(),
                        ElementType: Text(e, "elementType"),
                        Layers: e.GetProperty("layers").GetInt32(),
                        KvDim: e.GetProperty("kvDim").GetInt32(),
                        Tokens: e.GetProperty("tokens").GetInt32()),
                    VectorExpectation.RejectOutcome => new VectorExpectation(outcome, ErrorKind: Text(e, "errorKind")),
                    _ => throw new InvalidDataException($"{path}: outcome \"{outcome}\" is neither decode nor reject."),
                };
                vectors.Add(new ConformanceVector(Text(v, "file"), Text(v, "sha256"), Text(v, "section"), Text(v, "description"), expect));
            }

            return new ConformanceManifest(vectors);
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            throw new InvalidDataException($"{path}: not a valid conformance manifest: {e.Message}", e);
        }
    }

    private static string Text(JsonElement element, string name) =>
        element.GetProperty(name).GetString() ?? throw new InvalidDataException($"\"{name}\" is null.");
}
