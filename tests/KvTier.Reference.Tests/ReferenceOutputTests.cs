using KvTier.Layout;
using KvTier.Reference;
using KvTier.Testing;
using Xunit;

namespace KvTier.Reference.Tests;

/// <summary>Greedy generation reproduces what llama2.c's run.c prints, byte for byte.</summary>
public sealed class ReferenceOutputTests
{
    private static readonly int[] N64FedTokens =
    [
        1, 403, 407, 261, 378, 432, 383, 286, 261, 376, 298, 315, 421, 395, 317, 426, 338, 401, 396, 267, 337, 410, 408, 419,
        292, 411, 322, 265, 282, 295, 433, 426, 385, 328, 432, 358, 394, 261, 370, 432, 352, 266, 268, 388, 426, 338, 391, 266,
        267, 337, 335, 312, 432, 398, 312, 286, 267, 414, 270, 333, 415, 426, 13, 438,
    ];

    [RequiresModelTheory]
    [InlineData("ref_n64_once.txt", "Once upon a time", 64)]
    [InlineData("ref_n200_noprompt.txt", null, 200)]
    [InlineData("ref_default256_noprompt.txt", null, 256)]
    public void GreedyGenerationMatchesLlama2cByteForByte(string referenceFile, string? prompt, int steps)
    {
        byte[] expected = File.ReadAllBytes(TestModel.ReferencePath(referenceFile));

        GenerationResult result = TestModel.NewSession().Generate(prompt, steps);

        Assert.Equal(System.Text.Encoding.UTF8.GetString(expected), result.Text);
        Assert.Equal(expected, result.Output.ToArray());
        Assert.Equal(steps, result.FedTokens.Count);
        Assert.False(result.StoppedAtBos);
        Assert.Equal(steps, result.Cache.Length);
    }

    [RequiresModelFact]
    public void N64RunFeedsTheTokensListedInTheModelReadme()
    {
        GenerationResult result = TestModel.NewSession().Generate("Once upon a time", 64);

        Assert.Equal(N64FedTokens, result.FedTokens);
        Assert.Equal([1, 403, 407, 261, 378], result.PromptTokens);
    }

    [RequiresModelFact]
    public void PromptEncodesAsInTheModelReadme()
    {
        Assert.Equal([1, 403, 407, 261, 378], TestModel.Model.Tokenizer.Encode("Once upon a time"));
    }

    [RequiresModelFact]
    public void EmptyAndNullPromptsBothMeanBosOnly()
    {
        GenerationResult fromNull = TestModel.NewSession().Generate(null, 20);
        GenerationResult fromEmpty = TestModel.NewSession().Generate("", 20);

        Assert.Equal([1], fromNull.PromptTokens);
        Assert.Equal(fromNull.FedTokens, fromEmpty.FedTokens);
        Assert.Equal(fromNull.Output.ToArray(), fromEmpty.Output.ToArray());
    }

    [RequiresModelFact]
    public void StreamingStepsAgreeWithGenerate()
    {
        LlamaSession session = TestModel.NewSession();
        GenerationResult whole = session.Generate("Once upon a time", 40);

        var fed = new List<int>();
        var printed = new List<byte>();
        foreach (GenerationStep step in session.GenerateSteps("Once upon a time", 40))
        {
            Assert.Equal(fed.Count, step.Position);
            Assert.Equal(step.Position < 4, step.NextFromPrompt);
            fed.Add(step.Token);
            printed.AddRange(step.Printed.Span);
        }

        printed.Add((byte)'\n');
        Assert.Equal(whole.FedTokens, fed);
        Assert.Equal(whole.Output.ToArray(), printed);
    }

    [RequiresModelFact]
    public void GeneratedCacheHoldsOneRowPerFedTokenAndIsACopy()
    {
        LlamaSession session = TestModel.NewSession();
        GenerationResult result = session.Generate("Once upon a time", 10);
        float first = result.Cache.Keys(0)[0];

        session.Generate(null, 3);

        Assert.Equal(10, result.Cache.Length);
        Assert.Equal(first, result.Cache.Keys(0)[0]);
        Assert.Equal(3, session.Cache.Length);
    }

    [RequiresModelTheory]
    [InlineData(0)]
    [InlineData(-1)]
    [InlineData(513)]
    public void StepsOutsideTheContextAreRejected(int steps)
    {
        LlamaSession session = TestModel.NewSession();
        Assert.Throws<ArgumentOutOfRangeException>(() => session.Generate(null, steps));
        Assert.Throws<ArgumentOutOfRangeException>(() => session.GenerateSteps(null, steps));
    }

    [RequiresModelFact]
    public void ModelDescribesItsKvLayout()
    {
        LlamaModel model = TestModel.Model;

        Assert.Equal("stories260K", model.ModelId);
        Assert.Equal(new LlamaConfig(64, 172, 5, 8, 4, 512, 512, sharedClassifier: true), model.Config);
        Assert.Equal(8, model.Config.HeadSize);
        Assert.Equal(32, model.Config.KvDim);
        KvLayout layout = model.Layout;
        Assert.Equal(5, layout.Layers);
        Assert.Equal(4, layout.KvHeads);
        Assert.Equal(8, layout.HeadDim);
        Assert.Equal(KvElementType.Float32, layout.ElementType);
        Assert.Equal(new RopeParameters(10000, 8, RopePairing.AdjacentPairs), layout.Rope);
        Assert.True(layout.KeysStoredAfterRope);
        Assert.Same(model.Weights.TokenEmbedding, model.Weights.Classifier);
    }
}
