using System.CommandLine;
using System.Globalization;
using KvTier.Format;
using KvTier.Format.Codecs;
using KvTier.Keys;
using KvTier.Storage;

namespace KvTier.Cli.Stores;

/// <summary>
/// How the store commands open a store directory (format-spec/segment-file.md, metadata-schema.md) and read their
/// store options. A command runs once and exits, so the store never compacts in the background under it
/// (<c>kvtier compact</c> does that on request), and a command that only reads or maintains a store opens it without a
/// disk capacity, so that opening never evicts.
/// </summary>
internal static class StoreAccess
{
    // The library's defaults, so that the help text cannot drift from them.
    private static readonly KvStoreOptions Defaults = new() { Directory = "." };
    private static readonly int DefaultSegmentMiB = (int)(Defaults.SegmentSizeBytes / KvStoreOptions.MiB);
    private static readonly double DefaultDiskGiB = Defaults.DiskCapacityBytes / (double)(1024 * KvStoreOptions.MiB);

    /// <summary>A disk capacity no store reaches: reading or maintaining a store must never evict what it holds.</summary>
    private const long Unbounded = long.MaxValue / 4;

    /// <summary>Creates the <c>DIR</c> argument of a store command.</summary>
    public static Argument<string> DirectoryArgument(string description = "The store directory (segments/, index/, kvtier.lock)") =>
        new("DIR") { Description = description };

    /// <summary>Creates the <c>--key HEX</c> option.</summary>
    public static Option<string> KeyOption(string description) => new("--key") { Description = description, Required = true, HelpName = "HEX" };

    /// <summary><c>--memory-mb N</c>: the memory tier of a command that writes.</summary>
    public static Option<long> MemoryMiB() => new("--memory-mb")
    {
        Description = "MiB of the memory tier (pinned copies of what this run stores); 0 for none. A one-shot command gains nothing from it. Default: 0",
        DefaultValueFactory = _ => 0,
        HelpName = "N",
    };

    /// <summary><c>--disk-gb N</c>: the disk-tier capacity of a command that writes.</summary>
    public static Option<double> DiskGiB() => new("--disk-gb")
    {
        Description = string.Create(CultureInfo.InvariantCulture,
            $"GiB of live records the disk tier keeps; over it, the least recently used records are evicted (fractions allowed). Default: {DefaultDiskGiB}"),
        DefaultValueFactory = _ => DefaultDiskGiB,
        HelpName = "N",
    };

    /// <summary><c>--segment-mb N</c>: the size of new segment files.</summary>
    public static Option<int> SegmentMiB() => new("--segment-mb")
    {
        Description = $"MiB of each new segment file, 1 to 65536; a record must fit in one. Smaller segments make compaction finer-grained. Default: {DefaultSegmentMiB}",
        DefaultValueFactory = _ => DefaultSegmentMiB,
        HelpName = "N",
    };

    /// <summary>Whether <paramref name="directory"/> looks like a store: it holds <c>index/</c> or <c>segments/</c>.</summary>
    public static bool IsStore(string directory) =>
        Directory.Exists(Path.Combine(directory, KvStore.IndexDirectoryName))
        || Directory.Exists(Path.Combine(directory, KvStore.SegmentDirectoryName));

    /// <summary>
    /// Opens an existing store to read or maintain it: no memory tier, no disk capacity (nothing is evicted), no
    /// background compaction.
    /// </summary>
    /// <exception cref="KvStoreException">Not a store, locked by another process, or its index is damaged.</exception>
    public static KvStore OpenExisting(string directory)
    {
        RequireStore(directory);
        return KvStore.Open(new KvStoreOptions
        {
            Directory = directory,
            CreateIfMissing = false,
            MemoryCapacityBytes = 0,
            DiskCapacityBytes = Unbounded,
            BackgroundCompaction = false,
        });
    }

    /// <summary>
    /// Opens the store in <paramref name="directory"/> for writing, creating it (and the directory) when missing, with
    /// the options of <see cref="MemoryMiB"/>, <see cref="DiskGiB"/> and <see cref="SegmentMiB"/>.
    /// </summary>
    /// <exception cref="ArgumentException">An option is out of range (the message names it).</exception>
    /// <exception cref="KvStoreException">Locked by another process, or the directory is not a store.</exception>
    public static KvStore OpenForWriting(string directory, long memoryMiB, double diskGiB, int segmentMiB)
    {
        if (memoryMiB < 0 || memoryMiB > Unbounded / KvStoreOptions.MiB)
            throw new ArgumentException(string.Create(CultureInfo.InvariantCulture, $"--memory-mb {memoryMiB} must be 0 or more."));
        if (!(diskGiB > 0) || diskGiB * 1024 > Unbounded / KvStoreOptions.MiB)
            throw new ArgumentException(string.Create(CultureInfo.InvariantCulture, $"--disk-gb {diskGiB} must be more than 0."));
        if (segmentMiB is < 1 or > 65536)
            throw new ArgumentException(string.Create(CultureInfo.InvariantCulture, $"--segment-mb {segmentMiB} must be between 1 and 65536."));
        long diskBytes = Math.Max(4096, (long)(diskGiB * 1024 * KvStoreOptions.MiB));
        return KvStore.Open(new KvStoreOptions
        {
            Directory = directory,
            MemoryCapacityBytes = memoryMiB * KvStoreOptions.MiB,
            DiskCapacityBytes = diskBytes,
            SegmentSizeBytes = segmentMiB * KvStoreOptions.MiB,
            BackgroundCompaction = false,
        });
    }

    /// <summary>Refuses a directory that is not a store before anything is opened (opening would leave a lock file behind).</summary>
    /// <exception cref="KvStoreException">It does not exist or holds neither <c>index/</c> nor <c>segments/</c>.</exception>
    public static void RequireStore(string directory)
    {
        if (!Directory.Exists(directory))
            throw new KvStoreException(StoreErrorKind.NotAStore, $"{directory}: no such store directory.");
        if (!IsStore(directory))
            throw new KvStoreException(StoreErrorKind.NotAStore,
                $"{directory} is not a KvTier store (it holds no {KvStore.IndexDirectoryName}/ or {KvStore.SegmentDirectoryName}/).");
    }

    /// <summary>Parses the value of <c>--key</c>.</summary>
    /// <exception cref="ArgumentException">It is not 64 hexadecimal digits.</exception>
    public static ChunkKey ParseKey(string hex) =>
        ChunkKey.TryParse(hex, out ChunkKey key)
            ? key
            : throw new ArgumentException($"--key \"{(hex.Length > 80 ? hex[..80] + "…" : hex)}\" is not a chunk key: expected {2 * ChunkKey.Size} hexadecimal digits.");

    /// <summary>The name of a record's codec, or <c>codec N</c> for an id this build does not know.</summary>
    public static string CodecName(byte codec) =>
        ChunkCodecs.TryGet((CodecId)codec, out CodecInfo? info) ? info.Name : string.Create(CultureInfo.InvariantCulture, $"codec {codec}");

    /// <summary>The name of a key kind as the CLI prints it.</summary>
    public static string KindName(ChunkKeyKind kind) => kind == ChunkKeyKind.Prefix ? "prefix" : "segment";

    /// <summary>The name of a tier as the CLI prints it.</summary>
    public static string TierName(StoreTier tier) => tier == StoreTier.Memory ? "memory" : "disk";
}
