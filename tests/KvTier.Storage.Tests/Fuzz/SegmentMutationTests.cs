using KvTier.Testing.Fuzz;
using Xunit;

namespace KvTier.Storage.Tests.Fuzz;

/// <summary>
/// The segment reader's fuzz check (<see cref="SegmentFuzzCheck"/>) over the committed seed corpus, saved regressions
/// and deterministic mutations of the seeds: flipped bits, overwritten bytes, truncations and block splices. AFL runs
/// the same check coverage-guided (fuzz/run.sh segment).
/// </summary>
public class SegmentMutationTests
{
    [Fact]
    public void Seeds_and_regressions_pass_the_check()
    {
        string[] inputs = FuzzInputs.SeedsAndRegressions("segment");
        Assert.NotEmpty(inputs);
        foreach (string file in inputs)
            SegmentFuzzCheck.Run(File.ReadAllBytes(file));
    }

    [Fact]
    public void Thousands_of_mutated_segments_only_raise_format_errors()
    {
        byte[][] seeds = [.. Directory.GetFiles(FuzzInputs.CorpusDirectory("segment")).Order().Select(File.ReadAllBytes)];
        var random = new Random(20261128);
        for (int i = 0; i < 1500; i++)
        {
            byte[] input = (byte[])seeds[random.Next(seeds.Length)].Clone();
            switch (random.Next(4))
            {
                case 0:
                    for (int flips = 1 + random.Next(4); flips > 0; flips--)
                        input[random.Next(input.Length)] ^= (byte)(1 << random.Next(8));
                    break;
                case 1:
                    input = input[..random.Next(input.Length)];
                    break;
                case 2:
                    // Bytes past the header: frame magics, lengths and trailers.
                    int at = 4096 + random.Next(Math.Max(1, input.Length - 4096));
                    if (at < input.Length)
                        input[at] = (byte)random.Next(256);
                    break;
                default:
                    // Splice a later block over an earlier one (frames out of place).
                    int blocks = input.Length / 4096;
                    if (blocks > 2)
                    {
                        int from = 1 + random.Next(blocks - 1), to = 1 + random.Next(blocks - 1);
                        Array.Copy(input, from * 4096, input, to * 4096, 4096);
                    }
                    break;
            }
            SegmentFuzzCheck.Run(input);
        }
    }
}
