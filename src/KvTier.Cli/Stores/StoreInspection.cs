using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;
using KvTier.Storage;

namespace KvTier.Cli.Stores;

/// <summary>
/// What <c>kvtier inspect DIR</c> prints about a store: its tiers, live and dead bytes, every segment, the lifetime
/// counters kept in the store's index (gets, hits per tier and hit rates over every open, puts, deletes, evictions,
/// corruption), and what this open did (records recovered, bytes cut).
/// </summary>
internal static class StoreInspection
{
    /// <summary>The shape of <c>inspect DIR --json</c>'s output, as the help shows it.</summary>
    internal const string JsonShape =
        "{ path, storeId, records, liveBytes, deadBytes, segmentCount, tiers: { memory: { capacity, entries, bytes }, disk: { records, liveBytes, deadBytes, segments } }, "
        + "counters (lifetime, kept in the index): { gets, memoryHits, diskHits, misses, memoryHitRate, diskHitRate, puts, deletes, evictions, corruptionEvents }, "
        + "opening: { recoveredRecords, truncatedBytes, corruptionEvents }, "
        + "segments: [ { id, file, state (active|sealed|retired), capacity, committedEnd, liveBytes, deadBytes, liveRecords, liveFraction } ] }";

    /// <summary>Opens the store in <paramref name="directory"/> and writes its report.</summary>
    public static int Run(TextWriter output, string directory, bool json)
    {
        using KvStore kv = StoreAccess.OpenExisting(directory);
        StoreStatistics stats = kv.GetStatistics();
        IReadOnlyList<SegmentInfo> segments = kv.GetSegments();
        if (json)
            WriteJson(output, kv, stats, segments);
        else
            WriteText(output, kv, stats, segments);
        return KvTierCli.Success;
    }

    private static void WriteText(TextWriter o, KvStore kv, StoreStatistics s, IReadOnlyList<SegmentInfo> segments)
    {
        o.WriteLine(Invariant($"store               {kv.Options.Directory}"));
        o.WriteLine(Invariant($"store_id            {kv.StoreId}"));
        o.WriteLine(Invariant($"records             {s.Entries}"));
        o.WriteLine(Invariant($"memory_tier         {s.MemoryEntries} records, {s.MemoryBytes} bytes of {kv.Options.MemoryCapacityBytes} (this process's; the tier is not persisted)"));
        o.WriteLine(Invariant($"disk_tier           {s.Entries} records, {s.LiveBytes} live bytes, {s.DeadBytes} dead bytes, {s.Segments} segments"));
        o.WriteLine(Invariant($"live_fraction       {Fraction(s.LiveBytes, s.LiveBytes + s.DeadBytes)}"));
        StoreCounters l = s.Lifetime;
        o.WriteLine(Invariant($"gets                {l.Gets} over the store's life (memory hits {l.MemoryHits}, disk hits {l.DiskHits}, misses {l.Misses}; hit rates memory {l.MemoryHitRate:0.000}, disk {l.DiskHitRate:0.000})"));
        o.WriteLine(Invariant($"writes              {l.Puts} puts, {l.Deletes} deletes, {l.Evictions} evictions, {l.CorruptionEvents} corrupt records dropped over the store's life"));
        o.WriteLine(Invariant($"opening             {s.RecoveredRecords} records recovered from segment tails, {s.TruncatedBytes} torn bytes cut, {s.CorruptionEvents} corrupt records dropped"));
        o.WriteLine("# segment\tstate\tcapacity\tcommitted\tlive_bytes\tdead_bytes\tlive_records\tlive_fraction\tfile");
        foreach (SegmentInfo g in segments)
        {
            o.WriteLine(Invariant(
                $"{g.Id}\t{StateName(g.State)}\t{g.Capacity}\t{g.CommittedEnd}\t{g.LiveBytes}\t{g.DeadBytes}\t{g.LiveRecords}\t{g.LiveFraction:0.000}\t{g.Path}"));
        }
    }

    private static void WriteJson(TextWriter o, KvStore kv, StoreStatistics s, IReadOnlyList<SegmentInfo> segments)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true, NewLine = "\n", Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            json.WriteStartObject();
            json.WriteString("path", kv.Options.Directory);
            json.WriteString("storeId", kv.StoreId.ToString());
            json.WriteNumber("records", s.Entries);
            json.WriteNumber("liveBytes", s.LiveBytes);
            json.WriteNumber("deadBytes", s.DeadBytes);
            json.WriteNumber("segmentCount", s.Segments);
            json.WriteStartObject("tiers");
            json.WriteStartObject("memory");
            json.WriteNumber("capacity", kv.Options.MemoryCapacityBytes);
            json.WriteNumber("entries", s.MemoryEntries);
            json.WriteNumber("bytes", s.MemoryBytes);
            json.WriteEndObject();
            json.WriteStartObject("disk");
            json.WriteNumber("records", s.Entries);
            json.WriteNumber("liveBytes", s.LiveBytes);
            json.WriteNumber("deadBytes", s.DeadBytes);
            json.WriteNumber("segments", s.Segments);
            json.WriteEndObject();
            json.WriteEndObject();
            StoreCounters l = s.Lifetime;
            json.WriteStartObject("counters");
            json.WriteNumber("gets", l.Gets);
            json.WriteNumber("memoryHits", l.MemoryHits);
            json.WriteNumber("diskHits", l.DiskHits);
            json.WriteNumber("misses", l.Misses);
            json.WriteNumber("memoryHitRate", l.MemoryHitRate);
            json.WriteNumber("diskHitRate", l.DiskHitRate);
            json.WriteNumber("puts", l.Puts);
            json.WriteNumber("deletes", l.Deletes);
            json.WriteNumber("evictions", l.Evictions);
            json.WriteNumber("corruptionEvents", l.CorruptionEvents);
            json.WriteEndObject();
            json.WriteStartObject("opening");
            json.WriteNumber("recoveredRecords", s.RecoveredRecords);
            json.WriteNumber("truncatedBytes", s.TruncatedBytes);
            json.WriteNumber("corruptionEvents", s.CorruptionEvents);
            json.WriteEndObject();
            json.WriteStartArray("segments");
            foreach (SegmentInfo g in segments)
            {
                json.WriteStartObject();
                json.WriteNumber("id", g.Id);
                json.WriteString("file", g.Path);
                json.WriteString("state", StateName(g.State));
                json.WriteNumber("capacity", g.Capacity);
                json.WriteNumber("committedEnd", g.CommittedEnd);
                json.WriteNumber("liveBytes", g.LiveBytes);
                json.WriteNumber("deadBytes", g.DeadBytes);
                json.WriteNumber("liveRecords", g.LiveRecords);
                json.WriteNumber("liveFraction", Math.Round(g.LiveFraction, 6));
                json.WriteEndObject();
            }

            json.WriteEndArray();
            json.WriteEndObject();
        }

        o.WriteLine(System.Text.Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length));
    }

    private static string StateName(Storage.Segments.SegmentState state) => state.ToString().ToLowerInvariant();

    private static string Fraction(long part, long whole) => whole == 0 ? "1.000" : ((double)part / whole).ToString("0.000", CultureInfo.InvariantCulture);

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
