using System.Collections;
using Microsoft.Extensions.Configuration;

namespace KvTier.Hosting;

/// <summary>
/// Where KvTier's configuration comes from, outside code: a JSON or YAML file named by <see cref="ConfigFileVariable"/>,
/// then environment variables starting with <see cref="EnvironmentPrefix"/> (<c>KVTIER_Store__Directory</c>). Both
/// land in the <see cref="KvTierOptions.SectionName"/> section, so that with
/// <c>services.AddKvTier(configuration.GetSection("KvTier"), overrides)</c> the precedence is: code defaults &lt; file &lt;
/// environment &lt; code overrides (and any source the application adds after these overrides them too).
/// </summary>
public static class KvTierConfiguration
{
    /// <summary>The environment variable naming the configuration file: <c>KVTIER_CONFIG_FILE</c> (<c>.json</c>, <c>.yaml</c> or <c>.yml</c>).</summary>
    public const string ConfigFileVariable = "KVTIER_CONFIG_FILE";

    /// <summary>
    /// The prefix of KvTier's environment variables: <c>KVTIER_</c>. The rest is the option's path with <c>__</c> between
    /// levels: <c>KVTIER_Store__SegmentSizeBytes=1048576</c> sets <c>KvTier:Store:SegmentSizeBytes</c>.
    /// </summary>
    public const string EnvironmentPrefix = "KVTIER_";

    /// <summary>
    /// Adds the file named by <c>KVTIER_CONFIG_FILE</c> (when set) and then the <c>KVTIER_*</c> environment variables, as
    /// the <c>KvTier</c> section. The file holds the section's contents at its top level (<c>Store: { Directory: … }</c>),
    /// or under a top-level <c>KvTier</c> key.
    /// </summary>
    /// <param name="builder">The configuration builder.</param>
    /// <returns><paramref name="builder"/>.</returns>
    /// <exception cref="FileNotFoundException">When the configuration is built: <c>KVTIER_CONFIG_FILE</c> names a file that does not exist.</exception>
    /// <exception cref="ArgumentException">When the configuration is built: the file is neither <c>.json</c> nor <c>.yaml</c>/<c>.yml</c>.</exception>
    public static IConfigurationBuilder AddKvTierSources(this IConfigurationBuilder builder) => builder.AddKvTierSources(environment: null);

    /// <summary>
    /// As <see cref="AddKvTierSources(IConfigurationBuilder)"/>, reading <paramref name="environment"/> instead of the
    /// process's environment variables when it is not null (for tests and for hosts that filter the environment).
    /// </summary>
    /// <param name="builder">The configuration builder.</param>
    /// <param name="environment">The environment variables; null reads the process's.</param>
    /// <returns><paramref name="builder"/>.</returns>
    public static IConfigurationBuilder AddKvTierSources(this IConfigurationBuilder builder, IReadOnlyDictionary<string, string?>? environment)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.Add(new KvTierConfigurationSource(environment));
    }

    private sealed class KvTierConfigurationSource(IReadOnlyDictionary<string, string?>? environment) : IConfigurationSource
    {
        public IConfigurationProvider Build(IConfigurationBuilder builder) => new KvTierConfigurationProvider(environment);
    }

    /// <summary>Loads the file, then the environment over it; both under the <c>KvTier</c> section. Not reloaded.</summary>
    private sealed class KvTierConfigurationProvider(IReadOnlyDictionary<string, string?>? environment) : ConfigurationProvider
    {
        private const string Prefix = KvTierOptions.SectionName + ":";

        public override void Load()
        {
            var data = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
            Dictionary<string, string?> variables = Snapshot(environment);
            if (variables.TryGetValue(ConfigFileVariable, out string? file) && !string.IsNullOrWhiteSpace(file))
                LoadFile(file, data);
            foreach ((string name, string? value) in variables)
            {
                if (name.Length <= EnvironmentPrefix.Length || !name.StartsWith(EnvironmentPrefix, StringComparison.OrdinalIgnoreCase)
                    || string.Equals(name, ConfigFileVariable, StringComparison.OrdinalIgnoreCase))
                {
                    continue;
                }
                data[Prefix + name[EnvironmentPrefix.Length..].Replace("__", ConfigurationPath.KeyDelimiter, StringComparison.Ordinal)] = value;
            }
            Data = data;
        }

        private static void LoadFile(string file, Dictionary<string, string?> data)
        {
            string path = Path.GetFullPath(file);
            if (!File.Exists(path))
                throw new FileNotFoundException($"{ConfigFileVariable} names {path}, which does not exist.", path);
            var fileBuilder = new ConfigurationBuilder();
            string extension = Path.GetExtension(path).ToLowerInvariant();
            _ = extension switch
            {
                ".json" => fileBuilder.AddJsonFile(path, optional: false, reloadOnChange: false),
                ".yaml" or ".yml" => fileBuilder.AddYamlFile(path, optional: false, reloadOnChange: false),
                _ => throw new ArgumentException($"{ConfigFileVariable} names {path}; KvTier reads .json, .yaml and .yml files."),
            };
            foreach ((string key, string? value) in fileBuilder.Build().AsEnumerable())
            {
                if (value is null)
                    continue;
                data[key.StartsWith(Prefix, StringComparison.OrdinalIgnoreCase) ? Prefix + key[Prefix.Length..] : Prefix + key] = value;
            }
        }

        private static Dictionary<string, string?> Snapshot(IReadOnlyDictionary<string, string?>? environment)
        {
            var variables = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
            if (environment is not null)
            {
                foreach ((string name, string? value) in environment)
                    variables[name] = value;
                return variables;
            }
            foreach (DictionaryEntry entry in Environment.GetEnvironmentVariables())
                variables[(string)entry.Key] = entry.Value as string;
            return variables;
        }
    }
}
