using System.Buffers.Binary;
using KvTier.Format;
using KvTier.Keys;
using KvTier.Redis.Tests.Infrastructure;
using KvTier.Testing.Records;
using StackExchange.Redis;
using Xunit;

namespace KvTier.Redis.Tests;

/// <summary>Values damaged behind the tier's back (written with plain StackExchange.Redis) are misses, counted, never data or exceptions.</summary>
[Collection(RedisCollection.Name)]
public sealed class RedisTierCorruptionTests(RedisFixture redis)
{
    private static readonly ChunkKey Key = TestRecords.Key(42);

    public static TheoryData<string> Damages() =>
    [
        "flipped record byte",
        "flipped payload byte under a matching envelope checksum",
        "truncated value",
        "shorter than the envelope",
        "wrong magic",
        "envelope version 2",
        "envelope version 0",
        "reserved flags set",
        "reserved field set",
        "huge declared length",
        "declared length one short",
        "record of another key",
        "garbage inside a valid envelope",
        "trailing bytes after the record",
    ];

    private static byte[] Damage(string damage)
    {
        byte[] record = TestRecords.Create(Key, tokens: 8, contentSeed: 5);
        byte[] good = RawEnvelope.Wrap(record);
        // A byte well inside the last section's payload (the record ends with payload bytes and padding to 64).
        int payloadByte = ChunkRecord.Parse(record).Sections[^1] is var last ? (int)last.Offset + (int)last.Length / 2 : 0;
        switch (damage)
        {
            case "flipped record byte":
                good[32 + payloadByte] ^= 0x01;
                return good;
            case "flipped payload byte under a matching envelope checksum":
                record[payloadByte] ^= 0x80;
                return RawEnvelope.Wrap(record); // Only the record's own section checksum can catch this.
            case "truncated value":
                return good[..(good.Length / 2)];
            case "shorter than the envelope":
                return good[..20];
            case "wrong magic":
                good[0] = (byte)'X';
                return good;
            case "envelope version 2":
                return RawEnvelope.Wrap(record, version: 2);
            case "envelope version 0":
                return RawEnvelope.Wrap(record, version: 0);
            case "reserved flags set":
                return RawEnvelope.Wrap(record, flags: 0x8000);
            case "reserved field set":
                return RawEnvelope.Wrap(record, reserved: 1);
            case "huge declared length":
                return RawEnvelope.Wrap(record, declaredLength: ulong.MaxValue);
            case "declared length one short":
                return RawEnvelope.Wrap(record, declaredLength: (ulong)record.Length - 1);
            case "record of another key":
                return RawEnvelope.Wrap(TestRecords.Create(TestRecords.Key(43), tokens: 8, contentSeed: 5));
            case "garbage inside a valid envelope":
                var garbage = new byte[4096];
                new Random(9).NextBytes(garbage);
                return RawEnvelope.Wrap(garbage);
            case "trailing bytes after the record":
                return RawEnvelope.Wrap([.. record, .. new byte[64]]);
            default:
                throw new ArgumentOutOfRangeException(nameof(damage), damage, null);
        }
    }

    [RequiresRedisTheory]
    [MemberData(nameof(Damages))]
    public async Task A_damaged_value_is_a_counted_miss_and_is_deleted(string damage)
    {
        string ns = RedisFixture.NewNamespace();
        RedisKey redisKey = RedisFixture.KeyOf(ns, Key);
        await using RedisTier tier = await RedisTier.ConnectAsync(redis.Options(ns));
        Assert.True(await redis.Raw.StringSetAsync(redisKey, Damage(damage)));

        Assert.Null(await tier.TryGetAsync(Key));

        RedisTierStatistics stats = tier.GetStatistics();
        Assert.Equal(1, stats.CorruptRecords);
        Assert.Equal(1, stats.Misses);
        Assert.Equal(0, stats.Hits);
        Assert.Equal(0, stats.Errors);
        Assert.Equal(1, stats.CorruptRecordsDeleted);
        Assert.Contains(Key.ToString(), stats.LastCorruption);
        Assert.False(await redis.Raw.KeyExistsAsync(redisKey));

        // The next put repairs the key.
        byte[] record = TestRecords.Create(Key, tokens: 8, contentSeed: 5);
        Assert.True(await tier.PutAsync(record));
        Assert.Equal(record, await tier.TryGetAsync(Key));
    }

    [RequiresRedisFact]
    public async Task With_deletion_off_a_damaged_value_stays_and_counts_on_every_get()
    {
        string ns = RedisFixture.NewNamespace();
        RedisKey redisKey = RedisFixture.KeyOf(ns, Key);
        await using RedisTier tier = await RedisTier.ConnectAsync(redis.Options(ns, deleteCorrupt: false));
        byte[] damaged = Damage("flipped record byte");
        Assert.True(await redis.Raw.StringSetAsync(redisKey, damaged));

        Assert.Null(await tier.TryGetAsync(Key));
        Assert.Null(await tier.TryGetAsync(Key));

        Assert.Equal(2, tier.GetStatistics().CorruptRecords);
        Assert.Equal(0, tier.GetStatistics().CorruptRecordsDeleted);
        Assert.Equal(damaged, (byte[]?)await redis.Raw.StringGetAsync(redisKey));
    }

    [RequiresRedisFact]
    public async Task A_value_over_the_record_limit_is_a_miss()
    {
        string ns = RedisFixture.NewNamespace();
        await using RedisTier small = await RedisTier.ConnectAsync(redis.Options(ns, maxRecordBytes: 4096, deleteCorrupt: false));
        await using RedisTier large = await RedisTier.ConnectAsync(redis.Options(ns));
        byte[] record = TestRecords.Create(Key, tokens: 64); // 8 KiB of KV
        Assert.True(record.Length > 4096);
        Assert.True(await large.PutAsync(record));

        Assert.Null(await small.TryGetAsync(Key));
        Assert.Equal(1, small.GetStatistics().CorruptRecords);
        Assert.Equal(record, await large.TryGetAsync(Key));
    }

    [RequiresRedisFact]
    public async Task Random_values_never_throw_and_never_hit()
    {
        string ns = RedisFixture.NewNamespace();
        await using RedisTier tier = await RedisTier.ConnectAsync(redis.Options(ns));
        var random = new Random(1234);
        byte[] record = TestRecords.Create(Key, tokens: 2);
        const int Rounds = 300;
        for (int round = 0; round < Rounds; round++)
        {
            byte[] value;
            if (round % 3 == 0)
            {
                value = new byte[random.Next(0, 600)];
                random.NextBytes(value);
            }
            else
            {
                value = RawEnvelope.Wrap(record);
                int flips = 1 + random.Next(4);
                for (int f = 0; f < flips; f++)
                    value[random.Next(value.Length)] ^= (byte)(1 << random.Next(8));
                if (round % 3 == 2)
                    BinaryPrimitives.WriteUInt64LittleEndian(value.AsSpan(16), System.IO.Hashing.XxHash3.HashToUInt64(value.AsSpan(32)));
            }
            await redis.Raw.StringSetAsync(RedisFixture.KeyOf(ns, Key), value);
            byte[]? got = await tier.TryGetAsync(Key);
            // A flip can land in padding the checksums do not cover only if it also leaves the record valid; then the
            // bytes must be exactly what was stored.
            if (got is not null)
                Assert.Equal(value.AsSpan(32).ToArray(), got);
        }
        RedisTierStatistics stats = tier.GetStatistics();
        Assert.Equal(Rounds, stats.Hits + stats.Misses);
        Assert.True(stats.CorruptRecords >= Rounds / 2, $"only {stats.CorruptRecords} of {Rounds} damaged values were counted corrupt");
        Assert.Equal(0, stats.Errors);
    }
}
