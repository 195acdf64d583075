using KvTier.Testing.Fuzz;
using Xunit;

namespace KvTier.Remote.Tests.Fuzz;

/// <summary>
/// The frame parser's fuzz check (<see cref="FrameFuzzCheck"/>) over the committed seed corpus, saved regressions and
/// deterministic mutations of the seeds: flipped bits, overwritten bytes, truncations, splices and length fields set
/// to extremes. AFL runs the same check coverage-guided (fuzz/run.sh frame).
/// </summary>
public class FrameMutationTests
{
    [Fact]
    public void The_committed_corpus_matches_the_seed_generator()
    {
        string corpus = FuzzInputs.CorpusDirectory("frame");
        foreach ((string name, byte[] bytes) in FrameSeeds.Create())
            Assert.Equal(bytes, File.ReadAllBytes(Path.Combine(corpus, name)));
    }

    [Fact]
    public void Seeds_and_regressions_pass_the_check()
    {
        string[] inputs = FuzzInputs.SeedsAndRegressions("frame");
        Assert.NotEmpty(inputs);
        foreach (string file in inputs)
            FrameFuzzCheck.Run(File.ReadAllBytes(file));
    }

    [Fact]
    public void Thousands_of_mutated_frame_streams_only_raise_protocol_errors()
    {
        byte[][] seeds = [.. FrameSeeds.Create().Select(s => s.Bytes)];
        var random = new Random(20261129);
        for (int i = 0; i < 5000; i++)
        {
            byte[] input = (byte[])seeds[random.Next(seeds.Length)].Clone();
            switch (random.Next(5))
            {
                case 0:
                    for (int flips = 1 + random.Next(4); flips > 0; flips--)
                        input[random.Next(input.Length)] ^= (byte)(1 << random.Next(8));
                    break;
                case 1:
                    input = input[..random.Next(input.Length)];
                    break;
                case 2:
                    input[random.Next(input.Length)] = (byte)random.Next(256);
                    break;
                case 3:
                    // A length or count field (any aligned u32) set to an extreme.
                    int at = random.Next(Math.Max(1, input.Length - 4)) & ~3;
                    uint value = random.Next(4) switch { 0 => 0u, 1 => uint.MaxValue, 2 => 1u << 20, _ => (uint)random.Next() };
                    if (at + 4 <= input.Length)
                        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(input.AsSpan(at), value);
                    break;
                default:
                    byte[] other = seeds[random.Next(seeds.Length)];
                    input = [.. input.AsSpan(0, random.Next(input.Length)), .. other.AsSpan(random.Next(other.Length))];
                    break;
            }
            FrameFuzzCheck.Run(input);
        }
    }
}
