using System.Text;
using FsCheck;
using FsCheck.Fluent;
using KvTier.Reference;
using KvTier.Testing;
using Microsoft.FSharp.Core;
using Xunit;

namespace KvTier.Reference.Tests;

/// <summary>The tokenizer encodes and decodes as llama2.c does, and decoding inverts encoding.</summary>
public sealed class TokenizerTests
{
    private static Tokenizer Tok => TestModel.Model.Tokenizer;

    [RequiresModelTheory]
    [InlineData("Once upon a time")]
    [InlineData("Lily's mom said, \"Lily, let's go to the park.\" Lily was sad and didn't know what to do.\nThe end.")]
    [InlineData(" leading and  double  spaces ")]
    [InlineData("a")]
    [InlineData(" ")]
    [InlineData("\t\r\n")]
    [InlineData("Ünïcödé, naïve café — 日本語 🙂 Ω")]
    [InlineData("\u00e9\u0301 combining, \U0001F600\U0001F680 astral, \u0000 NUL")]
    public void DecodeInvertsEncode(string text)
    {
        int[] tokens = Tok.Encode(text);

        Assert.Equal(Tokenizer.Bos, tokens[0]);
        Assert.Equal(text, Tok.Decode(tokens));
        Assert.Equal(text, Tok.Decode(Tok.Encode(text, bos: true, eos: true)));
    }

    [RequiresModelFact]
    public void CharactersOutsideTheVocabularyFallBackToByteTokens()
    {
        int[] tokens = Tok.Encode("🙂", bos: false);

        // The dummy-prefix space, then the four UTF-8 bytes F0 9F 99 82 as tokens byte + 3.
        Assert.Equal([410, 0xF0 + 3, 0x9F + 3, 0x99 + 3, 0x82 + 3], tokens);
        Assert.Equal(new byte[] { 0xF0 }, Tok.DecodePieceBytes(410, 0xF0 + 3));
        Assert.Equal("\uFFFD", Tok.DecodePiece(410, 0xF0 + 3)); // a partial UTF-8 sequence on its own
    }

    [RequiresModelFact]
    public void EmptyTextHasNoDummyPrefix()
    {
        Assert.Equal([Tokenizer.Bos], Tok.Encode(""));
        Assert.Empty(Tok.Encode("", bos: false));
        Assert.Equal([Tokenizer.Bos, Tokenizer.Eos], Tok.Encode("", bos: true, eos: true));
        Assert.Equal("", Tok.Decode([]));
    }

    [RequiresModelFact]
    public void DecodePieceStripsTheLeadingSpaceOnlyAfterBos()
    {
        Assert.Equal(" Once", Encoding.ASCII.GetString(Tok.GetPieceBytes(403)));
        Assert.Equal("Once", Tok.DecodePiece(Tokenizer.Bos, 403));
        Assert.Equal(" Once", Tok.DecodePiece(378, 403));
        Assert.Equal("\n", Tok.DecodePiece(378, 13)); // <0x0A>
        Assert.Equal("<0x0A>", Encoding.ASCII.GetString(Tok.GetPieceBytes(13)));
        Assert.Throws<ArgumentOutOfRangeException>(() => Tok.DecodePiece(1, 512));
        Assert.Throws<ArgumentOutOfRangeException>(() => Tok.Decode([1, -1]));
    }

    [RequiresModelFact]
    public void TheDummyPrefixMergesWithTheFirstWord()
    {
        Assert.Equal([1, 261], Tok.Encode("a")); // " " + "a" -> " a"
        Assert.Equal([261], Tok.Encode("a", bos: false));
        Assert.Equal(403, Tok.Encode("Once", bos: false)[0]); // " Once"
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void VocabulariesWithoutBosAndEosAreRejected(int vocabSize)
    {
        // Found by fuzzing: a 1- or 2-token vocabulary was accepted, and Encode then emitted BOS/EOS ids outside it.
        byte[] file = [1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, (byte)'a', 0, 0, 0, 0, 1, 0, 0, 0, (byte)'b'];
        Assert.Throws<ArgumentOutOfRangeException>(() => Tokenizer.Parse(file.AsSpan(0, vocabSize == 1 ? 13 : 22), vocabSize));
    }

    [Fact]
    public void DuplicateStringsResolveToTheLowestId()
    {
        var tokens = new List<(byte[], float)>
        {
            ("<unk>"u8.ToArray(), 0f), ("<s>"u8.ToArray(), 0f), ("</s>"u8.ToArray(), 0f),
        };
        for (int b = 0; b < 256; b++)
            tokens.Add((Encoding.ASCII.GetBytes($"<0x{b:X2}>"), 0f));
        tokens.Add((" "u8.ToArray(), 0f)); // 259
        tokens.Add(("x"u8.ToArray(), 0f)); // 260
        tokens.Add(("x"u8.ToArray(), 5f)); // 261, duplicate
        tokens.Add((" x"u8.ToArray(), 1f)); // 262
        tokens.Add((" x"u8.ToArray(), 9f)); // 263, duplicate with a better score
        var tokenizer = Tokenizer.Parse(SyntheticCheckpoint.BuildTokenizer(tokens), tokens.Count);

        Assert.Equal([1, 262], tokenizer.Encode("x"));
    }

    [Fact]
    public void ByteFallbackNeedsTheByteTokens()
    {
        var tokens = new List<(byte[], float)> { ("<unk>"u8.ToArray(), 0f), ("<s>"u8.ToArray(), 0f), ("</s>"u8.ToArray(), 0f), ("a"u8.ToArray(), 0f) };
        var tokenizer = Tokenizer.Parse(SyntheticCheckpoint.BuildTokenizer(tokens), tokens.Count);

        // No " " token and no byte tokens: even the dummy prefix cannot be encoded.
        Assert.Equal([Tokenizer.Bos], tokenizer.Encode(""));
        Assert.Throws<InvalidOperationException>(() => tokenizer.Encode("a"));
    }

    [RequiresModelFact]
    public void RandomTextSurvivesARoundTrip()
    {
        // Strings over a mix of ASCII, Latin-1, CJK and astral characters; lone surrogates cannot survive UTF-8, and a
        // literal "<0x" would be taken for a raw-byte token, so both are excluded.
        Gen<char> ascii = Gen.Choose(0x20, 0x7E).Select(c => (char)c);
        Gen<string> pieces = Gen.OneOf(
            ascii.Select(c => c.ToString()),
            Gen.Elements("\n", "\t", " ", "é", "ß", "Ω", "日", "本", "🙂", "𝄞", "\u0301", "\0"),
            Gen.Choose(0xA0, 0xD7FF).Select(c => ((char)c).ToString()));
        Gen<string> texts = pieces.ListOf().Select(list => string.Concat(list)).Where(s => !s.Contains("<0x", StringComparison.Ordinal));

        Prop.ForAll(texts.ToArbitrary(), text => Tok.Decode(Tok.Encode(text)) == text)
            .Check(Config.QuickThrowOnFailure
                .WithMaxTest(300)
                .WithReplay(FSharpOption<Replay>.Some(new Replay(new Rnd(12345UL), FSharpOption<int>.None))));
    }
}
