using KvTier.Reference;

namespace KvTier.Testing;

/// <summary>
/// The stories260K model, loaded once per test process, and paths to its files and reference outputs.
/// Use only from tests marked <see cref="RequiresModelFactAttribute"/> or <see cref="RequiresModelTheoryAttribute"/>.
/// </summary>
/// <remarks>The model is immutable and shared; create a <see cref="LlamaSession"/> per test (sessions are not thread-safe).</remarks>
public static class TestModel
{
    private static readonly Lazy<string> LazyRoot = new(() => ModelDirectory.Locate());
    private static readonly Lazy<LlamaModel> LazyModel = new(() => LlamaModel.Load(Root));

    /// <summary>The models root (the folder that holds <c>stories260K/</c>); throws <see cref="ModelNotFoundException"/> when absent.</summary>
    public static string Root => LazyRoot.Value;

    /// <summary>The loaded stories260K model.</summary>
    public static LlamaModel Model => LazyModel.Value;

    /// <summary>The <c>stories260K/</c> folder.</summary>
    public static string Folder => Path.Combine(Root, ModelDirectory.DefaultModelName);

    /// <summary>The llama2.c checkpoint, <c>stories260K.bin</c>.</summary>
    public static string CheckpointPath => Path.Combine(Folder, "stories260K.bin");

    /// <summary>The llama2.c tokenizer, <c>tok512.bin</c>.</summary>
    public static string TokenizerPath => Path.Combine(Folder, "tok512.bin");

    /// <summary>The same weights as GGUF, <c>stories260K.gguf</c>.</summary>
    public static string GgufPath => Path.Combine(Folder, "stories260K.gguf");

    /// <summary>A file in <c>stories260K/reference/</c>, for example <c>ref_n64_once.txt</c>.</summary>
    public static string ReferencePath(string fileName) => Path.Combine(Folder, "reference", fileName);

    /// <summary>A new session on the shared model.</summary>
    public static LlamaSession NewSession() => new(Model);
}
