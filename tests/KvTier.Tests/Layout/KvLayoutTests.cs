using KvTier.Keys;
using KvTier.Layout;
using Xunit;

namespace KvTier.Tests.Layout;

public sealed class KvLayoutTests
{
    private static readonly RopeParameters Rope = new(10000, 8, RopePairing.AdjacentPairs);
    private static readonly KvLayout Baseline = new(5, 4, 8, KvElementType.Float32, Rope, true);

    [Fact]
    public void Every_layout_field_changes_the_fingerprint()
    {
        KvLayout[] variants =
        [
            Baseline,
            new(6, 4, 8, KvElementType.Float32, Rope, true),
            new(5, 2, 8, KvElementType.Float32, Rope, true),
            new(5, 4, 16, KvElementType.Float32, Rope, true),
            new(5, 4, 8, KvElementType.Float16, Rope, true),
            new(5, 4, 8, KvElementType.BFloat16, Rope, true),
            new(5, 4, 8, KvElementType.Float32, Rope, false),
            new(5, 4, 8, KvElementType.Float32, new RopeParameters(500000, 8, RopePairing.AdjacentPairs), true),
            new(5, 4, 8, KvElementType.Float32, new RopeParameters(10000, 4, RopePairing.AdjacentPairs), true),
            new(5, 4, 8, KvElementType.Float32, new RopeParameters(10000, 8, RopePairing.SplitHalves), true),
            new(5, 4, 8, KvElementType.Float32, RopeParameters.None, false),
        ];
        var fingerprints = variants.Select(v => ModelFingerprint.Compute("m", v).ToString()).ToHashSet();
        Assert.Equal(variants.Length, fingerprints.Count);
        Assert.NotEqual(ModelFingerprint.Compute("m", Baseline), ModelFingerprint.Compute("M", Baseline));
        Assert.Equal(ModelFingerprint.Compute("m", Baseline), ModelFingerprint.Compute("m", Baseline with { }));
    }

    [Fact]
    public void Sizes_follow_from_the_shape()
    {
        Assert.Equal(32, Baseline.KvDim);
        Assert.Equal(4, Baseline.ElementSize);
        Assert.Equal(2L * 5 * 32 * 4, Baseline.BytesPerToken);
        var llama8B = new KvLayout(32, 8, 128, KvElementType.Float16, new RopeParameters(500000, 128, RopePairing.SplitHalves), true);
        Assert.Equal(128 * 1024, llama8B.BytesPerToken);
    }

    [Fact]
    public void Out_of_range_layouts_are_rejected_naming_the_parameter()
    {
        Assert.Equal("layers", Assert.Throws<ArgumentOutOfRangeException>(() => new KvLayout(0, 4, 8, KvElementType.Float32, Rope, true)).ParamName);
        Assert.Equal("kvHeads", Assert.Throws<ArgumentOutOfRangeException>(() => new KvLayout(5, 0, 8, KvElementType.Float32, Rope, true)).ParamName);
        Assert.Equal("headDim", Assert.Throws<ArgumentOutOfRangeException>(() => new KvLayout(5, 4, 0, KvElementType.Float32, Rope, true)).ParamName);
        Assert.Equal("headDim", Assert.Throws<ArgumentOutOfRangeException>(() => new KvLayout(5, 1024, 4096, KvElementType.Float32, new RopeParameters(1, 2, RopePairing.AdjacentPairs), true)).ParamName);
        Assert.Equal("elementType", Assert.Throws<ArgumentOutOfRangeException>(() => new KvLayout(5, 4, 8, (KvElementType)9, Rope, true)).ParamName);
        Assert.Equal("rope", Assert.Throws<ArgumentOutOfRangeException>(() => new KvLayout(5, 4, 4, KvElementType.Float32, Rope, true)).ParamName);
        Assert.Throws<ArgumentOutOfRangeException>(() => new KvLayout(5, 4, 8, KvElementType.Float32, RopeParameters.None, true));
        Assert.Throws<ArgumentOutOfRangeException>(() => new RopeParameters(double.NaN, 8, RopePairing.AdjacentPairs));
        Assert.Throws<ArgumentOutOfRangeException>(() => new RopeParameters(-1, 8, RopePairing.AdjacentPairs));
        Assert.Throws<ArgumentOutOfRangeException>(() => new RopeParameters(10000, 7, RopePairing.AdjacentPairs));
        Assert.Throws<ArgumentOutOfRangeException>(() => new RopeParameters(10000, 8, RopePairing.None));
        Assert.Throws<ArgumentOutOfRangeException>(() => new RopeParameters(10000, 8, (RopePairing)7));
    }
}
