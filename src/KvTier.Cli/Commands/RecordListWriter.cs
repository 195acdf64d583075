using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;
using KvTier.Cli.Stores;
using KvTier.Storage;

namespace KvTier.Cli.Commands;

/// <summary>
/// The output of <c>kvtier store list</c> and <c>kvtier remote list</c>: one tab-separated line per record (or one JSON
/// object), so that scripts read a local store and a server the same way.
/// </summary>
internal static class RecordListWriter
{
    /// <summary>The text form: a '#' header line, a line per record, a '#' summary naming <paramref name="location"/>.</summary>
    public static void WriteText(TextWriter o, IReadOnlyList<StoredEntry> entries, string location)
    {
        o.WriteLine("# key\tkind\ttokens\tcodec\tlevel\tbytes\tsegment\toffset");
        long bytes = 0;
        foreach (StoredEntry e in entries)
        {
            bytes += e.RecordLength;
            o.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{e.Key}\t{StoreAccess.KindName(e.KeyKind)}\t{e.TokenCount}\t{StoreAccess.CodecName(e.Codec)}\t{e.Level}\t{e.RecordLength}\t{e.SegmentId}\t{e.Offset}"));
        }

        o.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"# {entries.Count} {(entries.Count == 1 ? "record" : "records")}, {bytes} record bytes, in {location}"));
    }

    /// <summary>The JSON form (<see cref="StoreCommand.ListJsonShape"/>); <paramref name="segmentFile"/> names a segment's file where it is known.</summary>
    public static void WriteJson(TextWriter o, string path, IReadOnlyList<StoredEntry> entries, Func<ulong, string?> segmentFile)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true, NewLine = "\n", Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            json.WriteStartObject();
            json.WriteString("path", path);
            json.WriteStartArray("records");
            foreach (StoredEntry e in entries)
            {
                json.WriteStartObject();
                json.WriteString("key", e.Key.ToString());
                json.WriteString("kind", StoreAccess.KindName(e.KeyKind));
                json.WriteNumber("tokens", e.TokenCount);
                json.WriteString("codec", StoreAccess.CodecName(e.Codec));
                json.WriteNumber("codecId", e.Codec);
                json.WriteNumber("level", e.Level);
                json.WriteNumber("bytes", e.RecordLength);
                json.WriteNumber("segment", e.SegmentId);
                json.WriteString("segmentFile", segmentFile(e.SegmentId));
                json.WriteNumber("offset", e.Offset);
                json.WriteNumber("sequence", e.Sequence);
                json.WriteEndObject();
            }

            json.WriteEndArray();
            json.WriteEndObject();
        }

        o.WriteLine(System.Text.Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length));
    }
}
