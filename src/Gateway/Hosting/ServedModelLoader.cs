using Llama4Cluster.Gateway.Model;
using Llama4Cluster.Core.Config;
using Llama4Cluster.Core.Tokenization;
using Llama4Cluster.Core.Vision;

namespace Llama4Cluster.Gateway.Hosting;

/// <summary>Reads what the gateway needs of a checkpoint (config.json and the tokenizer, never weights) into a <see cref="ServedModel"/>.</summary>
public static class ServedModelLoader
{
    /// <summary>
    /// The served model of <paramref name="directory"/>: id = <see cref="GatewayOptions.ServedModelName"/> or the directory's
    /// name; max model length = min(max_position_embeddings, <see cref="GatewayOptions.MaxModelLength"/>); EOS ids = the
    /// config's EOS ids ∪ the tokenizer's stop tokens.
    /// </summary>
    /// <exception cref="GatewayStartupException">The directory, its config.json or its tokenizer is missing or unreadable (exit code 1).</exception>
    public static ServedModel Load(string directory, GatewayOptions options, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(directory);
        ArgumentNullException.ThrowIfNull(options);
        string full = Path.GetFullPath(directory);
        if (!Directory.Exists(full))
            throw GatewayStartupException.Failed($"--model '{directory}': no such directory (give a Hugging Face checkpoint directory)");
        Llama4TextConfig config;
        try
        {
            config = Llama4ConfigReader.Load(full);
        }
        catch (Exception e) when (e is IOException or InvalidDataException or ArgumentException or UnauthorizedAccessException)
        {
            throw GatewayStartupException.Failed($"--model '{directory}': {e.Message}", e);
        }
        if (!Llama4Tokenizer.ExistsIn(full))
            throw GatewayStartupException.Failed($"--model '{directory}': no tokenizer files (tokenizer.model or tokenizer.json): " +
                "the gateway tokenizes prompts itself; copy the checkpoint's tokenizer files into the directory");
        Llama4Tokenizer tokenizer;
        try
        {
            tokenizer = Llama4Tokenizer.Load(full);
        }
        catch (Exception e) when (e is TokenizerFormatException or IOException or InvalidDataException or UnauthorizedAccessException)
        {
            throw GatewayStartupException.Failed($"--model '{directory}': cannot read the tokenizer: {e.Message}", e);
        }
        if (tokenizer.VocabSize > config.VocabSize)
            throw GatewayStartupException.Failed($"--model '{directory}': the tokenizer has {tokenizer.VocabSize} ids but config.json's vocab_size is {config.VocabSize}: " +
                "the tokenizer files belong to another model");

        // A longer --max-model-len than the model's positions cannot be served: the model's limit wins (the log shows it).
        int maxLength = Math.Min(config.MaxPositionEmbeddings, options.MaxModelLength ?? int.MaxValue);
        var eos = config.EosTokenIds.Concat(tokenizer.StopTokenIds).Distinct().Order().ToArray();
        string id = string.IsNullOrWhiteSpace(options.ServedModelName)
            ? new DirectoryInfo(full.TrimEnd(Path.DirectorySeparatorChar)).Name
            : options.ServedModelName.Trim();
        long created = (time ?? TimeProvider.System).GetUtcNow().ToUnixTimeSeconds();
        VisionInputs? vision;
        try
        {
            vision = VisionInputs.FromModelDirectory(full);
        }
        catch (Exception e) when (e is IOException or InvalidDataException or UnauthorizedAccessException)
        {
            throw GatewayStartupException.Failed($"--model '{directory}': {e.Message}", e);
        }

        if (vision is not null)
        {
            // The image layout's special tokens must be in the tokenizer (spec §5.4).
            try
            {
                ImageTokenSet.FromTokenizer(tokenizer);
            }
            catch (ArgumentException e)
            {
                throw GatewayStartupException.Failed($"--model '{directory}': the checkpoint has a vision tower but {e.Message}", e);
            }
        }

        return new ServedModel(id, full, config, tokenizer, maxLength, eos, created) { Vision = vision };
    }
}
