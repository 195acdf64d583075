using System.Buffers.Binary;
using System.CommandLine;
using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;
using KvTier.Cli.Records;
using KvTier.Cli.Stores;
using KvTier.Format;
using KvTier.Format.Codecs;
using KvTier.Layout;

namespace KvTier.Cli.Commands;

/// <summary>
/// <c>kvtier inspect PATH [--json]</c>: a record's header and section table, validated (format-spec/kvtier-format.md
/// §5 up to the section table) but not decoded; or, when PATH is a directory, a store's tiers and segments
/// (<see cref="StoreInspection"/>).
/// </summary>
internal static class InspectCommand
{
    /// <summary>The shape of <c>--json</c>'s output, as the help shows it.</summary>
    internal const string JsonShape =
        "{ path, recordLength, formatVersion, minReaderVersion, flags, headerSize, sectionEntrySize, tableEnd, headerChecksum (16 hex digits), "
        + "codec (name), codecId, level, lossless, modelId, fingerprint (64 hex), layout: { layers, kvHeads, headDim, kvDim, elementType (f32|f16|bf16), "
        + "ropePairing (none|adjacent|split-half), ropeTheta, rotaryDims, keysAfterRope }, keyKind (prefix|segment), key (64 hex), tokenCount, "
        + "firstPosition, lastPosition, sectionCount, sections: [ { index, layer, kind (k|v), offset, length, checksum (16 hex), bytesPerElement } ] }";

    public static Command Create(CliContext context)
    {
        var path = new Argument<string>("PATH") { Description = "A chunk record file (.kvt), or a store directory" };
        var json = new Option<bool>("--json")
        {
            Description = "Print one JSON object instead of text. For a record: " + JsonShape + ". For a store: " + StoreInspection.JsonShape,
        };
        var command = new Command("inspect",
            "Print a chunk record's header fields and section table; validates header, checksum and table (format-spec/kvtier-format.md §5) but decodes nothing. "
            + "For a store directory: its tiers, records, live and dead bytes, lifetime get counters and hit rates (kept in the store), and one line per segment")
        {
            path, json,
        };
        command.SetAction(parse => context.Guard(() =>
        {
            string given = parse.GetValue(path)!;
            if (Directory.Exists(given))
                return StoreInspection.Run(context.Output, given, parse.GetValue(json));
            string file = Path.GetFullPath(given);
            byte[] bytes = ChunkFiles.ReadRecordBytes(file);
            ChunkRecord record = ChunkRecord.Parse(bytes, file);
            if (parse.GetValue(json))
                WriteJson(context.Output, file, record);
            else
                WriteText(context.Output, file, record);
            return KvTierCli.Success;
        }));
        return command;
    }

    private static void WriteText(TextWriter o, string file, ChunkRecord record)
    {
        ChunkRecordHeader h = record.Header;
        KvLayout layout = h.Layout;
        CodecInfo codec = ChunkCodecs.Get(h.Codec);
        ReadOnlySpan<byte> r = record.Bytes.Span;
        o.WriteLine(Invariant($"file                {file}"));
        o.WriteLine(Invariant($"record_length       {h.RecordLength}"));
        o.WriteLine(Invariant($"format_version      {h.FormatVersion}"));
        o.WriteLine(Invariant($"min_reader_version  {h.MinReaderVersion}"));
        o.WriteLine(Invariant($"flags               0x{h.Flags:X8}"));
        o.WriteLine(Invariant($"header_size         {h.HeaderSize}"));
        o.WriteLine(Invariant($"section_entry_size  {h.SectionEntrySize}"));
        o.WriteLine(Invariant($"table_end           {h.TableEnd}"));
        o.WriteLine(Invariant($"header_checksum     {HeaderChecksum(r)}"));
        o.WriteLine(Invariant($"codec               {codec.Name} (id {(int)h.Codec}), level {h.Level}, {(codec.Lossless ? "lossless" : "lossy")}"));
        o.WriteLine(Invariant($"model_id            {h.ModelId}"));
        o.WriteLine(Invariant($"fingerprint         {h.Fingerprint}"));
        o.WriteLine(Invariant($"layout              {layout.Layers} layers, {layout.KvHeads} KV heads x {layout.HeadDim} (kv_dim {layout.KvDim}), {LayoutNames.Of(layout.ElementType)}"));
        o.WriteLine(Invariant($"rope                {LayoutNames.Of(layout.Rope.Pairing)}, theta {layout.Rope.Theta.ToString("R", CultureInfo.InvariantCulture)}, rotary_dims {layout.Rope.RotaryDims}, keys {(layout.KeysStoredAfterRope ? "after" : "before")} RoPE"));
        o.WriteLine(Invariant($"key_kind            {KindName(h.KeyKind)}"));
        o.WriteLine(Invariant($"chunk_key           {h.Key}"));
        o.WriteLine(Invariant($"token_count         {h.TokenCount}"));
        o.WriteLine(Invariant($"positions           {h.FirstPosition}..{(long)h.FirstPosition + h.TokenCount - 1} (first_position {h.FirstPosition})"));
        o.WriteLine(Invariant($"section_count       {h.SectionCount}"));
        o.WriteLine("# section\tlayer\tkind\toffset\tlength\tchecksum\tbytes/element");
        long elements = (long)h.TokenCount * layout.KvDim;
        foreach (SectionEntry s in record.Sections)
        {
            o.WriteLine(Invariant(
                $"{s.Index}\t{s.Layer}\t{(s.Kind == SectionKind.Keys ? "k" : "v")}\t{s.Offset}\t{s.Length}\t{s.Checksum:x16}\t{((double)s.Length / elements).ToString("0.000", CultureInfo.InvariantCulture)}"));
        }
    }

    private static void WriteJson(TextWriter o, string file, ChunkRecord record)
    {
        ChunkRecordHeader h = record.Header;
        KvLayout layout = h.Layout;
        CodecInfo codec = ChunkCodecs.Get(h.Codec);
        ReadOnlySpan<byte> r = record.Bytes.Span;
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true, NewLine = "\n", Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            json.WriteStartObject();
            json.WriteString("path", file);
            json.WriteNumber("recordLength", h.RecordLength);
            json.WriteNumber("formatVersion", h.FormatVersion);
            json.WriteNumber("minReaderVersion", h.MinReaderVersion);
            json.WriteNumber("flags", h.Flags);
            json.WriteNumber("headerSize", h.HeaderSize);
            json.WriteNumber("sectionEntrySize", h.SectionEntrySize);
            json.WriteNumber("tableEnd", h.TableEnd);
            json.WriteString("headerChecksum", HeaderChecksum(r));
            json.WriteString("codec", codec.Name);
            json.WriteNumber("codecId", (int)h.Codec);
            json.WriteNumber("level", h.Level);
            json.WriteBoolean("lossless", codec.Lossless);
            json.WriteString("modelId", h.ModelId);
            json.WriteString("fingerprint", h.Fingerprint.ToString());
            json.WriteStartObject("layout");
            json.WriteNumber("layers", layout.Layers);
            json.WriteNumber("kvHeads", layout.KvHeads);
            json.WriteNumber("headDim", layout.HeadDim);
            json.WriteNumber("kvDim", layout.KvDim);
            json.WriteString("elementType", LayoutNames.Of(layout.ElementType));
            json.WriteString("ropePairing", LayoutNames.Of(layout.Rope.Pairing));
            json.WriteNumber("ropeTheta", layout.Rope.Theta);
            json.WriteNumber("rotaryDims", layout.Rope.RotaryDims);
            json.WriteBoolean("keysAfterRope", layout.KeysStoredAfterRope);
            json.WriteEndObject();
            json.WriteString("keyKind", KindName(h.KeyKind));
            json.WriteString("key", h.Key.ToString());
            json.WriteNumber("tokenCount", h.TokenCount);
            json.WriteNumber("firstPosition", h.FirstPosition);
            json.WriteNumber("lastPosition", (long)h.FirstPosition + h.TokenCount - 1);
            json.WriteNumber("sectionCount", h.SectionCount);
            json.WriteStartArray("sections");
            long elements = (long)h.TokenCount * layout.KvDim;
            foreach (SectionEntry s in record.Sections)
            {
                json.WriteStartObject();
                json.WriteNumber("index", s.Index);
                json.WriteNumber("layer", s.Layer);
                json.WriteString("kind", s.Kind == SectionKind.Keys ? "k" : "v");
                json.WriteNumber("offset", s.Offset);
                json.WriteNumber("length", s.Length);
                json.WriteString("checksum", s.Checksum.ToString("x16", CultureInfo.InvariantCulture));
                json.WriteNumber("bytesPerElement", Math.Round((double)s.Length / elements, 6));
                json.WriteEndObject();
            }

            json.WriteEndArray();
            json.WriteEndObject();
        }

        o.WriteLine(System.Text.Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length));
    }

    internal static string KindName(ChunkKeyKind kind) => kind == ChunkKeyKind.Prefix ? "prefix" : "segment";

    private static string HeaderChecksum(ReadOnlySpan<byte> record) =>
        BinaryPrimitives.ReadUInt64LittleEndian(record[152..]).ToString("x16", CultureInfo.InvariantCulture);

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
