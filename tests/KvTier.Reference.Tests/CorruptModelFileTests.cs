using KvTier.Reference;
using KvTier.Testing;
using Xunit;

namespace KvTier.Reference.Tests;

/// <summary>
/// Thousands of deterministic corruptions of the real files (byte flips, truncations, insertions) produce either a
/// valid result or <see cref="InvalidModelFileException"/>, never another exception.
/// </summary>
public sealed class CorruptModelFileTests
{
    [RequiresModelFact]
    public void CorruptTokenizersFailCleanlyOrStillWork()
    {
        byte[] original = File.ReadAllBytes(TestModel.TokenizerPath);
        var random = new Random(20240601);
        int accepted = 0;
        for (int iteration = 0; iteration < 3000; iteration++)
        {
            byte[] mutated = Mutate(original, random, hotBytes: 64);
            Tokenizer tokenizer;
            try
            {
                tokenizer = Tokenizer.Parse(mutated, 512, "mutated");
            }
            catch (InvalidModelFileException)
            {
                continue;
            }
            catch (Exception e)
            {
                Assert.Fail($"iteration {iteration}: {e.GetType().Name}: {e.Message}");
                return;
            }

            accepted++;
            // Whatever the vocabulary became, encoding and decoding must keep working.
            int[] tokens = tokenizer.Encode("Once upon a time, Lily saw a 🙂.");
            _ = tokenizer.Decode(tokens);
            for (int token = 0; token < 512; token += 37)
                _ = tokenizer.DecodePieceBytes(Tokenizer.Bos, token);
        }

        Assert.InRange(accepted, 1, 2999); // both outcomes were exercised
    }

    [RequiresModelFact]
    public void CorruptCheckpointsFailCleanlyOrStillWork()
    {
        byte[] original = File.ReadAllBytes(TestModel.CheckpointPath);
        Tokenizer tokenizer = TestModel.Model.Tokenizer;
        var random = new Random(20240602);
        int accepted = 0;
        for (int iteration = 0; iteration < 1500; iteration++)
        {
            byte[] mutated = Mutate(original, random, hotBytes: LlamaCheckpoint.HeaderSize);
            LlamaCheckpoint checkpoint;
            try
            {
                checkpoint = LlamaCheckpoint.Parse(mutated, "mutated");
            }
            catch (InvalidModelFileException)
            {
                continue;
            }
            catch (Exception e)
            {
                Assert.Fail($"iteration {iteration}: {e.GetType().Name}: {e.Message}");
                return;
            }

            // Corrupt weights are still weights: a few forward steps must run (their numbers may be garbage).
            if (accepted++ < 10)
            {
                var session = new LlamaSession(new LlamaModel(checkpoint, tokenizer, "mutated"));
                _ = session.Prefill([1, 403, 407]);
            }
        }

        Assert.InRange(accepted, 1, 1499);
    }

    /// <summary>One random corruption; half of the flips land in the first <paramref name="hotBytes"/> bytes, where the lengths are.</summary>
    private static byte[] Mutate(byte[] original, Random random, int hotBytes)
    {
        switch (random.Next(6))
        {
            case 0: // truncate
                return original[..random.Next(original.Length)];
            case 1: // append junk
            {
                byte[] longer = new byte[original.Length + random.Next(1, 9)];
                original.CopyTo(longer, 0);
                random.NextBytes(longer.AsSpan(original.Length));
                return longer;
            }

            case 2: // delete one byte
            {
                int at = random.Next(original.Length);
                return [.. original.AsSpan(0, at), .. original.AsSpan(at + 1)];
            }

            default: // flip bits in 1 to 4 bytes
            {
                byte[] copy = (byte[])original.Clone();
                int flips = random.Next(1, 5);
                for (int i = 0; i < flips; i++)
                {
                    int at = random.Next(2) == 0 ? random.Next(Math.Min(hotBytes, copy.Length)) : random.Next(copy.Length);
                    copy[at] ^= (byte)random.Next(1, 256);
                }

                return copy;
            }
        }
    }
}
