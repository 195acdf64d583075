using KvTier.Layout;

namespace KvTier.Reference;

/// <summary>
/// A llama2.c model ready to run: hyperparameters, weights, tokenizer and the identity and KV layout that a cache
/// engine keys its entries by. Create one <see cref="LlamaSession"/> per sequence to run it.
/// </summary>
/// <remarks>Immutable; any number of sessions on any threads may share one model.</remarks>
public sealed class LlamaModel
{
    /// <summary>RoPE base frequency of llama2.c models.</summary>
    public const double RopeTheta = 10000;

    /// <summary>Assembles a model.</summary>
    /// <param name="checkpoint">The weights and hyperparameters.</param>
    /// <param name="tokenizer">A tokenizer with the checkpoint's vocabulary size.</param>
    /// <param name="modelId">A name for the model (for example <c>stories260K</c>).</param>
    /// <exception cref="ArgumentException">The tokenizer's vocabulary does not match, or <paramref name="modelId"/> is empty.</exception>
    public LlamaModel(LlamaCheckpoint checkpoint, Tokenizer tokenizer, string modelId)
    {
        ArgumentNullException.ThrowIfNull(checkpoint);
        ArgumentNullException.ThrowIfNull(tokenizer);
        ArgumentException.ThrowIfNullOrWhiteSpace(modelId);
        if (tokenizer.VocabSize != checkpoint.Config.VocabSize)
            throw new ArgumentException(
                $"The tokenizer has {tokenizer.VocabSize} tokens but the checkpoint's vocabulary has {checkpoint.Config.VocabSize}.", nameof(tokenizer));
        Config = checkpoint.Config;
        Weights = checkpoint.Weights;
        Tokenizer = tokenizer;
        ModelId = modelId;
        Layout = new KvLayout(
            Config.Layers,
            Config.KvHeads,
            Config.HeadSize,
            KvElementType.Float32,
            new RopeParameters(RopeTheta, Config.HeadSize, RopePairing.AdjacentPairs),
            keysStoredAfterRope: true);
    }

    /// <summary>The model's name, for example <c>stories260K</c>.</summary>
    public string ModelId { get; }

    /// <summary>Hyperparameters.</summary>
    public LlamaConfig Config { get; }

    /// <summary>Weights.</summary>
    public LlamaWeights Weights { get; }

    /// <summary>Tokenizer.</summary>
    public Tokenizer Tokenizer { get; }

    /// <summary>The KV cache layout: float32, keys stored after RoPE (theta 10000, all head channels, adjacent pairs).</summary>
    public KvLayout Layout { get; }

    /// <summary>
    /// Loads <c>{modelsRoot}/{name}/{name}.bin</c> and its tokenizer from the same folder: <c>tok{vocab}.bin</c>
    /// (llama2.c's name for a custom vocabulary, <c>tok512.bin</c> for stories260K) or else <c>tokenizer.bin</c>.
    /// </summary>
    /// <param name="modelsRoot">The models root, as <see cref="ModelDirectory.Locate(string?)"/> returns it.</param>
    /// <param name="name">The model's folder and file name.</param>
    /// <returns>The model, with <see cref="ModelId"/> = <paramref name="name"/>.</returns>
    /// <exception cref="ModelNotFoundException">The checkpoint or tokenizer file does not exist.</exception>
    /// <exception cref="InvalidModelFileException">A file is not valid.</exception>
    public static LlamaModel Load(string modelsRoot, string name = ModelDirectory.DefaultModelName)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(modelsRoot);
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        if (name != Path.GetFileName(name) || name is "." or "..")
            throw new ArgumentException($"Model name '{name}' must be a plain folder name.", nameof(name));

        string folder = Path.Combine(modelsRoot, name);
        string checkpointPath = Path.Combine(folder, name + ".bin");
        if (!File.Exists(checkpointPath))
            throw new ModelNotFoundException(
                $"model {name} not found: {checkpointPath} does not exist; set {ModelDirectory.EnvironmentVariable} or pass --models DIR",
                [checkpointPath]);
        LlamaCheckpoint checkpoint = LlamaCheckpoint.Load(checkpointPath);

        string custom = Path.Combine(folder, $"tok{checkpoint.Config.VocabSize}.bin");
        string standard = Path.Combine(folder, "tokenizer.bin");
        string tokenizerPath = File.Exists(custom) ? custom
            : File.Exists(standard) ? standard
            : throw new ModelNotFoundException(
                $"tokenizer for model {name} not found: neither {custom} nor {standard} exists", [custom, standard]);
        return new LlamaModel(checkpoint, Tokenizer.Load(tokenizerPath, checkpoint.Config.VocabSize), name);
    }

    /// <summary>Loads a model from explicit file paths.</summary>
    /// <param name="checkpointPath">The llama2.c checkpoint.</param>
    /// <param name="tokenizerPath">The llama2.c tokenizer.</param>
    /// <param name="modelId">The model's name; by default the checkpoint's file name without extension.</param>
    /// <returns>The model.</returns>
    /// <exception cref="InvalidModelFileException">A file is not valid.</exception>
    /// <exception cref="IOException">A file cannot be opened or read.</exception>
    public static LlamaModel LoadFiles(string checkpointPath, string tokenizerPath, string? modelId = null)
    {
        LlamaCheckpoint checkpoint = LlamaCheckpoint.Load(checkpointPath);
        Tokenizer tokenizer = Tokenizer.Load(tokenizerPath, checkpoint.Config.VocabSize);
        return new LlamaModel(checkpoint, tokenizer, modelId ?? Path.GetFileNameWithoutExtension(checkpointPath));
    }

    /// <summary>Starts a sequence with an empty KV cache.</summary>
    /// <returns>A new session.</returns>
    public LlamaSession CreateSession() => new(this);
}
