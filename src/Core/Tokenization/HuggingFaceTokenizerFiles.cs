using System.Globalization;
using System.Text.Json;

namespace Llama4Cluster.Core.Tokenization;

/// <summary>
/// Reads Hugging Face tokenizer files: <c>tokenizer.json</c> (byte-level BPE in GPT-2 byte-to-unicode form plus
/// <c>added_tokens</c>) and <c>tokenizer_config.json</c> (<c>added_tokens_decoder</c>).
/// </summary>
/// <remarks>
/// Encoding uses the vocabulary ids as tiktoken ranks. That is exact for tokenizers converted from tiktoken (as
/// Llama 4's is): the converter emits a merge for every split of every token, ordered by the merged token's rank, so
/// "lowest merge index" and "lowest merged rank" pick the same pair. The merges are still checked for consistency.
/// </remarks>
internal static class HuggingFaceTokenizerFiles
{
    public const string TokenizerJson = "tokenizer.json";
    public const string TokenizerConfigJson = "tokenizer_config.json";

    /// <summary>Base vocabulary (Latin-1 keyed bytes → id) and added tokens (content → id).</summary>
    public static (Dictionary<string, int> Ranks, Dictionary<string, int> AddedTokens) ReadTokenizerJson(string path)
    {
        using var document = Parse(path);
        var root = document.RootElement;
        var model = RequireProperty(path, root, "model", JsonValueKind.Object);
        if (model.TryGetProperty("type", out var type) && type.ValueKind == JsonValueKind.String && type.GetString() != "BPE")
        {
            throw new TokenizerFormatException(path, $"field \"model.type\" is \"{type.GetString()}\"; only byte-level \"BPE\" is supported.");
        }

        var vocab = RequireProperty(path, model, "vocab", JsonValueKind.Object);
        var ranks = new Dictionary<string, int>(StringComparer.Ordinal);
        var seenIds = new HashSet<int>();
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var entry in vocab.EnumerateObject())
        {
            if (entry.Value.ValueKind != JsonValueKind.Number || !entry.Value.TryGetInt32(out var id) || id < 0)
            {
                throw new TokenizerFormatException(path, $"field \"model.vocab\": the id of \"{entry.Name}\" is not a non-negative integer.");
            }

            if (!ByteLevelUnicode.TryDecode(entry.Name, out var bytes) || bytes.Length == 0)
            {
                throw new TokenizerFormatException(path, $"field \"model.vocab\": \"{entry.Name}\" (id {id}) is not a byte-level BPE token.");
            }

            names.Add(entry.Name);
            if (!seenIds.Add(id))
            {
                throw new TokenizerFormatException(path, $"field \"model.vocab\": id {id} appears twice.");
            }

            if (!ranks.TryAdd(BytePairEncoder.ToKey(bytes), id))
            {
                throw new TokenizerFormatException(path, $"field \"model.vocab\": token \"{entry.Name}\" appears twice.");
            }
        }

        if (ranks.Count == 0)
        {
            throw new TokenizerFormatException(path, "field \"model.vocab\" is empty.");
        }

        if (model.TryGetProperty("merges", out var merges) && merges.ValueKind == JsonValueKind.Array)
        {
            CheckMerges(path, merges, names);
        }

        var added = new Dictionary<string, int>(StringComparer.Ordinal);
        if (root.TryGetProperty("added_tokens", out var addedTokens) && addedTokens.ValueKind == JsonValueKind.Array)
        {
            var index = 0;
            foreach (var token in addedTokens.EnumerateArray())
            {
                var field = $"added_tokens[{index}]";
                var content = RequireProperty(path, token, "content", JsonValueKind.String, field).GetString()!;
                var idElement = RequireProperty(path, token, "id", JsonValueKind.Number, field);
                if (!idElement.TryGetInt32(out var id) || id < 0)
                {
                    throw new TokenizerFormatException(path, $"field \"{field}.id\" is not a non-negative integer.");
                }

                added[content] = id;
                index++;
            }
        }

        return (ranks, added);
    }

    /// <summary>Added tokens of <c>tokenizer_config.json</c> (<c>added_tokens_decoder</c>: id → {content, …}).</summary>
    public static Dictionary<string, int> ReadTokenizerConfig(string path)
    {
        using var document = Parse(path);
        var added = new Dictionary<string, int>(StringComparer.Ordinal);
        if (!document.RootElement.TryGetProperty("added_tokens_decoder", out var decoder))
        {
            return added;
        }

        if (decoder.ValueKind != JsonValueKind.Object)
        {
            throw new TokenizerFormatException(path, "field \"added_tokens_decoder\" is not an object.");
        }

        foreach (var entry in decoder.EnumerateObject())
        {
            var field = $"added_tokens_decoder.{entry.Name}";
            if (!int.TryParse(entry.Name, NumberStyles.None, CultureInfo.InvariantCulture, out var id))
            {
                throw new TokenizerFormatException(path, $"field \"{field}\": the key is not a token id.");
            }

            var content = RequireProperty(path, entry.Value, "content", JsonValueKind.String, field).GetString()!;
            added[content] = id;
        }

        return added;
    }

    private static void CheckMerges(string path, JsonElement merges, HashSet<string> vocab)
    {
        var index = 0;
        foreach (var merge in merges.EnumerateArray())
        {
            string? left = null, right = null;
            if (merge.ValueKind == JsonValueKind.String)
            {
                // Older form: "left right" (byte-level tokens never contain a plain space).
                var parts = merge.GetString()!.Split(' ');
                if (parts.Length == 2)
                {
                    (left, right) = (parts[0], parts[1]);
                }
            }
            else if (merge.ValueKind == JsonValueKind.Array && merge.GetArrayLength() == 2
                     && merge[0].ValueKind == JsonValueKind.String && merge[1].ValueKind == JsonValueKind.String)
            {
                (left, right) = (merge[0].GetString(), merge[1].GetString());
            }

            if (left is null || right is null)
            {
                throw new TokenizerFormatException(path, $"field \"model.merges[{index}]\" is neither \"a b\" nor [\"a\", \"b\"].");
            }

            if (!vocab.Contains(left) || !vocab.Contains(right) || !vocab.Contains(left + right))
            {
                throw new TokenizerFormatException(path, $"field \"model.merges[{index}]\": \"{left}\" + \"{right}\" is not made of vocabulary tokens.");
            }

            index++;
        }
    }

    private static JsonDocument Parse(string path)
    {
        if (!File.Exists(path))
        {
            throw new TokenizerFormatException(path, "file not found.");
        }

        try
        {
            using var stream = File.OpenRead(path);
            return JsonDocument.Parse(stream, new JsonDocumentOptions { MaxDepth = 256 });
        }
        catch (JsonException e)
        {
            throw new TokenizerFormatException(path, $"invalid JSON at line {e.LineNumber + 1}, byte {e.BytePositionInLine + 1}: {e.Message}", e);
        }
    }

    private static JsonElement RequireProperty(string path, JsonElement parent, string name, JsonValueKind kind, string? parentField = null)
    {
        var field = parentField is null ? name : $"{parentField}.{name}";
        if (parent.ValueKind != JsonValueKind.Object || !parent.TryGetProperty(name, out var value))
        {
            throw new TokenizerFormatException(path, $"field \"{field}\" is missing.");
        }

        if (value.ValueKind != kind)
        {
            throw new TokenizerFormatException(path, $"field \"{field}\" is {value.ValueKind}, expected {kind}.");
        }

        return value;
    }
}
