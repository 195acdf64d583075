using KvTier.Reference;
using KvTier.Testing;
using Xunit;

namespace KvTier.Reference.Tests;

/// <summary>Environment variables are process-wide: tests that set them run alone.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ProcessEnvironmentCollection
{
    public const string Name = "Process environment";
}

/// <summary>The models root is found where the user said, then where KVTIER_MODELS says, then next to the repository.</summary>
[Collection(ProcessEnvironmentCollection.Name)]
public sealed class ModelDirectoryTests : IDisposable
{
    private readonly string _temp = Directory.CreateTempSubdirectory("kvtier-models-").FullName;

    public void Dispose() => Directory.Delete(_temp, recursive: true);

    [Fact]
    public void ExplicitDirectoryWinsOverTheEnvironment()
    {
        string explicitRoot = FakeModelsRoot("explicit");
        string environmentRoot = FakeModelsRoot("environment");

        string found = WithEnvironment(environmentRoot, () => ModelDirectory.Locate(explicitRoot));

        Assert.Equal(explicitRoot, found);
    }

    [Fact]
    public void EnvironmentVariableIsHonoured()
    {
        string environmentRoot = FakeModelsRoot("environment");

        string found = WithEnvironment(environmentRoot, () => ModelDirectory.Locate());
        bool ok = WithEnvironment(environmentRoot, () => ModelDirectory.TryLocate(null, out string path, out _) ? path : null) is not null;

        Assert.Equal(environmentRoot, found);
        Assert.True(ok);
    }

    [Fact]
    public void A_directory_the_user_named_is_never_passed_over()
    {
        string empty = Directory.CreateDirectory(Path.Combine(_temp, "empty")).FullName;
        string environmentRoot = FakeModelsRoot("environment");
        string walkStart = Directory.CreateDirectory(Path.Combine(_temp, "walk", "x")).FullName;
        string walkModels = FakeModelsRoot(Path.Combine("walk", "shared", "models"));

        Assert.False(ModelDirectory.TryLocate(empty, environmentRoot, [walkStart], out _, out IReadOnlyList<string> searched));
        Assert.Equal([empty], searched);
        Assert.False(ModelDirectory.TryLocate(null, empty, [walkStart], out _, out searched));
        Assert.Equal([empty], searched);
        Assert.True(ModelDirectory.TryLocate(null, null, [walkStart], out string path, out _));
        Assert.Equal(walkModels, path);
    }

    [Fact]
    public void WalksUpToASharedModelsFolder()
    {
        string root = Directory.CreateDirectory(Path.Combine(_temp, "work")).FullName;
        string models = Path.Combine(root, "shared", "models");
        Directory.CreateDirectory(Path.Combine(models, "stories260K"));
        File.WriteAllBytes(Path.Combine(models, "stories260K", "stories260K.bin"), []);
        string start = Directory.CreateDirectory(Path.Combine(root, "main", "tests", "X", "bin", "Release", "net10.0")).FullName;

        string found = ModelDirectory.Locate(null, null, [start]);

        Assert.Equal(models, found);
    }

    [Fact]
    public void MissingModelGivesAOneLineMessageNamingEveryPlace()
    {
        string start = Directory.CreateDirectory(Path.Combine(_temp, "a", "b")).FullName;
        string bogus = Path.Combine(_temp, "nowhere");

        var e = Assert.Throws<ModelNotFoundException>(() => ModelDirectory.Locate(null, null, [start]));
        var named = Assert.Throws<ModelNotFoundException>(() => ModelDirectory.Locate(bogus, null, [start]));

        Assert.DoesNotContain('\n', e.Message);
        Assert.Contains(Path.Combine(start, "shared", "models"), e.Message, StringComparison.Ordinal);
        Assert.Contains(Path.Combine(_temp, "shared", "models"), e.Message, StringComparison.Ordinal);
        Assert.Contains(bogus, named.Message, StringComparison.Ordinal);
        Assert.Equal([bogus], named.Searched);
        Assert.Contains("set KVTIER_MODELS or pass --models DIR", e.Message, StringComparison.Ordinal);
        Assert.False(typeof(KvTierFormatException).IsAssignableFrom(typeof(ModelNotFoundException)));
    }

    [RequiresModelFact]
    public void LocateFindsTheModelThatTheTestsUse()
    {
        Assert.True(ModelDirectory.TryLocate(null, out string found, out IReadOnlyList<string> searched));

        Assert.Equal(TestModel.Root, found);
        Assert.Equal(found, searched[^1]);
        Assert.True(File.Exists(Path.Combine(found, "stories260K", "stories260K.bin")));
    }

    [RequiresModelFact]
    public void LoadingAnAbsentModelNamesTheFile()
    {
        var e = Assert.Throws<ModelNotFoundException>(() => LlamaModel.Load(TestModel.Root, "stories15M"));
        Assert.Contains(Path.Combine(TestModel.Root, "stories15M", "stories15M.bin"), e.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => LlamaModel.Load(TestModel.Root, "../stories260K"));
        Assert.Throws<ModelNotFoundException>(() => LlamaModel.Load(_temp));
    }

    private string FakeModelsRoot(string name)
    {
        string root = Path.Combine(_temp, name);
        Directory.CreateDirectory(Path.Combine(root, "stories260K"));
        File.WriteAllBytes(Path.Combine(root, "stories260K", "stories260K.bin"), []);
        return root;
    }

    private static T WithEnvironment<T>(string? value, Func<T> action)
    {
        string? saved = Environment.GetEnvironmentVariable(ModelDirectory.EnvironmentVariable);
        Environment.SetEnvironmentVariable(ModelDirectory.EnvironmentVariable, value);
        try
        {
            return action();
        }
        finally
        {
            Environment.SetEnvironmentVariable(ModelDirectory.EnvironmentVariable, saved);
        }
    }
}
