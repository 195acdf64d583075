namespace KvTier.Prefetch;

/// <summary>How a request ended (<see cref="PrefetchRequest.Completion"/>).</summary>
/// <param name="Chunks">Each chunk's final status, in request order: <see cref="ChunkStatus.Loaded"/> or why not.</param>
/// <param name="FirstMissingChunk">The first chunk that is not loaded (not found, corrupt or mismatched), or -1 when none is.</param>
public sealed record PrefetchResult(IReadOnlyList<ChunkStatus> Chunks, int FirstMissingChunk)
{
    /// <summary>
    /// Leading chunks whose every layer is in the destination: what a prefix-reusing engine can skip computing
    /// (everything from <see cref="FirstMissingChunk"/> on must be recomputed).
    /// </summary>
    public int ReusablePrefixChunks => FirstMissingChunk < 0 ? Chunks.Count : FirstMissingChunk;

    /// <summary>The chunks that are missing, corrupt or mismatched, in order (skipped chunks are not listed).</summary>
    public IReadOnlyList<int> MissingChunks
    {
        get
        {
            var missing = new List<int>();
            for (int i = 0; i < Chunks.Count; i++)
            {
                if (Chunks[i] is ChunkStatus.NotFound or ChunkStatus.Corrupt or ChunkStatus.Mismatch)
                    missing.Add(i);
            }
            return missing;
        }
    }
}
