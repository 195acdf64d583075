namespace KvTier.Storage;

/// <summary>Progress of a long store operation (compaction, verification, repair).</summary>
/// <param name="Phase">What is being done, in a few words.</param>
/// <param name="Done">Units done (bytes or records, per <paramref name="Unit"/>).</param>
/// <param name="Total">Units in all (0 when unknown).</param>
/// <param name="Unit">"bytes" or "records".</param>
public readonly record struct StoreProgress(string Phase, long Done, long Total, string Unit);
