using System.Threading.Channels;
using KvTier.Format;
using KvTier.Prefetch.Decoding;

namespace KvTier.Prefetch;

// The decode stage: workers take staged sections, decode them into the destination and give the blocks back.
public sealed partial class PrefetchRequest
{
    private async Task DecodeAsync(ChannelReader<StagedSection> reader, CancellationToken token)
    {
        try
        {
            while (await reader.WaitToReadAsync(token).ConfigureAwait(false))
            {
                while (reader.TryRead(out StagedSection section))
                {
                    try
                    {
                        await DecodeOneAsync(section, token).ConfigureAwait(false);
                    }
                    finally
                    {
                        _owner.Pool.Return(section.Buffer);
                    }
                    // Only after success: a section cut short by cancellation or a fault never completes its layer.
                    ReleaseLayer(section.Layer);
                }
            }
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            // Cancelled: RunAsync releases what is left in the channel.
        }
        catch (Exception ex)
        {
            Fail(ex);
        }
    }

    private async ValueTask DecodeOneAsync(StagedSection section, CancellationToken token)
    {
        if (GetChunkStatus(section.Chunk) != ChunkStatus.Loading)
            return; // The chunk failed or was skipped since this section was staged: nothing of it is delivered any more.
        token.ThrowIfCancellationRequested();
        Memory<float> target = Destination.Rows(section.Layer, section.Kind, section.Chunk * Destination.ChunkTokens, section.Record.Header.TokenCount);
        try
        {
            await _owner.Options.Decoder.DecodeAsync(section, target, token).ConfigureAwait(false);
            _owner.CountDecoded();
        }
        catch (ChunkRecordException)
        {
            // A payload that passed its checksum but does not decode: as corrupt, for this request.
            MarkMissing(section.Chunk, ChunkStatus.Corrupt);
        }
    }
}
