using System.Text;
using KvTier.Keys;
using KvTier.Prefetch;
using KvTier.Redis;
using KvTier.Remote;
using KvTier.Storage;
using Microsoft.Extensions.Options;

namespace KvTier.Hosting;

/// <summary>
/// Validates <see cref="KvTierOptions"/> with each component's own checks (the ones its constructor or <c>Open</c> runs),
/// so that a bad option fails at start-up rather than at first use, and rewrites their messages to name the option by
/// its configuration path (<c>KvTier:Store:SegmentSizeBytes is …</c>).
/// </summary>
/// <remarks>
/// The components' <c>Validate</c> methods are internal to their assemblies (visible to this one); they are called
/// (<see cref="ComponentCheck"/>) so that the rules live in one place.
/// Stateless: safe to call from any thread.
/// </remarks>
internal sealed class KvTierOptionsValidator : IValidateOptions<KvTierOptions>
{
    private const string Root = KvTierOptions.SectionName;

    // A secret of the minimum length, standing in for the token file's while the other remote options are checked.
    private static readonly byte[] PlaceholderSecret = new byte[64];

    public ValidateOptionsResult Validate(string? name, KvTierOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        List<string> failures = Check(options);
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    /// <summary>Every problem with <paramref name="options"/>, one message each, naming the option; empty when valid.</summary>
    internal static List<string> Check(KvTierOptions options)
    {
        var failures = new List<string>();
        if (options.Store is null)
            failures.Add($"{Root}:Store is required.");
        else
            Run(failures, "Store", () => ComponentCheck.KvStore.Invoke(options.Store), nameof(KvStoreOptions));
        if (options.Prefetcher is null)
            failures.Add($"{Root}:Prefetcher must not be null.");
        else
            Run(failures, "Prefetcher", () => ComponentCheck.Prefetcher.Invoke(options.Prefetcher), nameof(PrefetcherOptions));

        if (options.Remote is not null && options.Redis is not null)
            failures.Add($"{Root}:Remote and {Root}:Redis are both set; configure at most one remote tier.");
        if (options.Remote is { } remote)
        {
            if (string.IsNullOrWhiteSpace(remote.TokenFile))
                failures.Add($"{Root}:Remote:TokenFile is required (a file holding the server's shared token).");
            else if (!File.Exists(remote.TokenFile))
                failures.Add($"{Root}:Remote:TokenFile {remote.TokenFile} does not exist.");
            Run(failures, "Remote", () => ComponentCheck.RemoteTier.Invoke(remote.ToRemoteTierOptions(PlaceholderSecret)), nameof(RemoteTierOptions), nameof(KvCacheClientOptions));
        }
        if (options.Redis is { } redis)
            Run(failures, "Redis", () => ComponentCheck.Redis.Invoke(redis), nameof(RedisTierOptions));

        if (options.ChunkTokens is < 1 or > ChunkKeys.MaxChunkTokens)
            failures.Add($"{Root}:ChunkTokens is {options.ChunkTokens}; it must be between 1 and {ChunkKeys.MaxChunkTokens}.");
        if (options.KeyNamespace is null)
            failures.Add($"{Root}:KeyNamespace must not be null (\"\" is the shared namespace).");
        else if (Encoding.UTF8.GetByteCount(options.KeyNamespace) > ChunkKeys.MaxNamespaceBytes)
            failures.Add($"{Root}:KeyNamespace is {Encoding.UTF8.GetByteCount(options.KeyNamespace)} bytes of UTF-8; it must be at most {ChunkKeys.MaxNamespaceBytes}.");
        return failures;
    }

    private static void Run(List<string> failures, string section, Action check, params string[] typeNames)
    {
        try
        {
            check();
        }
        catch (Exception e) when (e is KvStoreException or PrefetchException or ArgumentException)
        {
            failures.Add($"{Root}:{section}:{Reword(e, typeNames)}");
        }
    }

    /// <summary>"KvStoreOptions.SegmentSizeBytes is 5; …" → "SegmentSizeBytes is 5; …"; argument exceptions lose their "(Parameter …)" and "Actual value" tails.</summary>
    private static string Reword(Exception e, string[] typeNames)
    {
        string message = e.Message;
        if (e is ArgumentException { ParamName: { } param })
        {
            int tail = message.IndexOf($" (Parameter '{param}')", StringComparison.Ordinal);
            if (tail >= 0)
                message = message[..tail];
        }
        int newline = message.IndexOfAny(['\r', '\n']);
        if (newline >= 0)
            message = message[..newline];
        foreach (string type in typeNames)
        {
            if (message.StartsWith(type + ".", StringComparison.Ordinal))
                return message[(type.Length + 1)..];
        }
        return message;
    }
}

/// <summary>The components' own option checks (internal to them, visible to this assembly), so that the rules live in one place.</summary>
internal static class ComponentCheck
{
    public static readonly Action<object> KvStore = options => ((KvStoreOptions)options).Validate();
    public static readonly Action<object> Prefetcher = options => ((PrefetcherOptions)options).Validate();
    public static readonly Action<object> RemoteTier = options => ((RemoteTierOptions)options).Validate();
    public static readonly Action<object> Redis = options => RedisConfiguration.Create((RedisTierOptions)options);
}
