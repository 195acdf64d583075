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
                        if (section.Buffer is { } buffer)
                            _owner.Pool.Return(buffer);
                    }
                    // Only after success: a section cut short by cancellation or a fault never completes its layer.
                    if (ReleaseLayer(section.Layer))
                    {
                        // This worker completed a layer: the engine's continuation waiting for it is queued to this pool
                        // thread, and a thread blocked on it was just woken. Give both the core now rather than after
                        // the next section (or the next scheduler tick, with a decoder on every core).
                        await Task.Yield();
                        Thread.Yield();
                    }
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
        int firstToken = section.Chunk * Destination.ChunkTokens;
        int tokens = section.Record.Header.TokenCount;
        try
        {
            if (Destination.DeviceBuffer is null)
            {
                await _owner.Decoder.DecodeAsync(section, Destination.Rows(section.Layer, section.Kind, firstToken, tokens), token).ConfigureAwait(false);
            }
            else
            {
                // Prefetcher.Start checked that the decoder is an accelerator decoder on the destination's accelerator.
                var device = (AcceleratorSectionDecoder)_owner.Decoder;
                await device.DecodeToDeviceAsync(section, Destination.DeviceRows(section.Layer, section.Kind, firstToken, tokens), token).ConfigureAwait(false);
            }
            _owner.CountDecoded();
        }
        catch (ChunkRecordException)
        {
            // A payload that passed its checksum but does not decode: as corrupt, for this request.
            MarkMissing(section.Chunk, ChunkStatus.Corrupt);
        }
    }
}
