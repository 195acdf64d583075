using KvTier.Prefetch;
using KvTier.Prefetch.Decoding;

namespace KvTier.Blend.Tests;

/// <summary>The CPU decoder, except that sections of layers at or past <see cref="HoldFromLayer"/> wait until <see cref="Release"/> (or cancellation).</summary>
internal sealed class HoldingDecoder(int holdFromLayer) : ISectionDecoder
{
    private readonly TaskCompletionSource _release = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public string Name => "holding";

    public int HoldFromLayer { get; } = holdFromLayer;

    public void Release() => _release.TrySetResult();

    public async ValueTask DecodeAsync(StagedSection section, Memory<float> destination, CancellationToken cancellationToken)
    {
        if (section.Layer >= HoldFromLayer)
            await _release.Task.WaitAsync(cancellationToken);
        CpuSectionDecoder.Decode(section, destination.Span);
    }
}
