using System.Text.Json;

namespace Llama4Cluster.Core.Tokenization;

/// <summary>
/// Writes a small Llama 4-format tokenizer for tests: <c>tokenizer.model</c> (tiktoken), <c>tokenizer.json</c>
/// (HF byte-level BPE with the same ranks, merges and added tokens) and <c>tokenizer_config.json</c>.
/// Ids: 256 single bytes (rank = byte value), BPE merges learned from <see cref="TinyTokenizerSample"/>, then
/// <see cref="Llama4SpecialTokens.Essential"/> as the last ids, in the real file's relative order.
/// </summary>
public static class TinyTokenizerWriter
{
    /// <summary>Fewest ids: 256 bytes + the special tokens.</summary>
    public static int MinVocabSize => 256 + Llama4SpecialTokens.Essential.Count;

    /// <summary>Writes the three files into <paramref name="directory"/> (created if needed).</summary>
    /// <exception cref="ArgumentOutOfRangeException">Too small a vocabulary, or more merges than the sample yields.</exception>
    public static TinyTokenizerInfo Write(string directory, int vocabSize)
    {
        ArgumentNullException.ThrowIfNull(directory);
        ArgumentOutOfRangeException.ThrowIfLessThan(vocabSize, MinVocabSize);
        var specials = Llama4SpecialTokens.Essential;
        var baseCount = vocabSize - specials.Count;
        var tokens = BpeTrainer.Train(TinyTokenizerSample.Text, baseCount - 256);
        var specialIds = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < specials.Count; i++)
        {
            specialIds[specials[i]] = baseCount + i;
        }

        Directory.CreateDirectory(directory);
        TiktokenModelFile.Write(Path.Combine(directory, TiktokenModelFile.FileName), tokens);
        File.WriteAllBytes(Path.Combine(directory, HuggingFaceTokenizerFiles.TokenizerJson), TokenizerJson(tokens, specialIds));
        File.WriteAllBytes(Path.Combine(directory, HuggingFaceTokenizerFiles.TokenizerConfigJson), TokenizerConfigJson(specialIds));

        return new TinyTokenizerInfo(
            BeginOfText: specialIds[Llama4SpecialTokens.BeginOfText],
            EndOfText: specialIds[Llama4SpecialTokens.EndOfText],
            EosTokenIds:
            [
                specialIds[Llama4SpecialTokens.EndOfText],
                specialIds[Llama4SpecialTokens.EndOfMessage],
                specialIds[Llama4SpecialTokens.EndOfTurn],
            ],
            Pad: specialIds[Llama4SpecialTokens.FinetuneRightPad],
            ImageStart: specialIds[Llama4SpecialTokens.ImageStart],
            ImageEnd: specialIds[Llama4SpecialTokens.ImageEnd],
            Patch: specialIds[Llama4SpecialTokens.Patch]);
    }

    private static byte[] TokenizerJson(List<byte[]> tokens, Dictionary<string, int> specialIds)
    {
        using var stream = new MemoryStream();
        using (var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            json.WriteStartObject();
            json.WriteString("version", "1.0");
            json.WriteNull("truncation");
            json.WriteNull("padding");

            json.WriteStartArray("added_tokens");
            foreach (var (content, id) in specialIds.OrderBy(kv => kv.Value))
            {
                json.WriteStartObject();
                json.WriteNumber("id", id);
                json.WriteString("content", content);
                json.WriteBoolean("single_word", false);
                json.WriteBoolean("lstrip", false);
                json.WriteBoolean("rstrip", false);
                json.WriteBoolean("normalized", false);
                json.WriteBoolean("special", true);
                json.WriteEndObject();
            }

            json.WriteEndArray();
            json.WriteNull("normalizer");

            WritePreTokenizer(json);

            WritePostProcessor(json, specialIds[Llama4SpecialTokens.BeginOfText]);

            json.WriteStartObject("decoder");
            json.WriteString("type", "ByteLevel");
            json.WriteBoolean("add_prefix_space", true);
            json.WriteBoolean("trim_offsets", true);
            json.WriteBoolean("use_regex", true);
            json.WriteEndObject();

            WriteModel(json, tokens);
            json.WriteEndObject();
        }

        return stream.ToArray();
    }

    /// <summary>Regex split (isolated pieces), then byte-level mapping without its own regex: as in HF's Llama 4 file.</summary>
    private static void WritePreTokenizer(Utf8JsonWriter json)
    {
        json.WriteStartObject("pre_tokenizer");
        json.WriteString("type", "Sequence");
        json.WriteStartArray("pretokenizers");
        json.WriteStartObject();
        json.WriteString("type", "Split");
        json.WriteStartObject("pattern");
        json.WriteString("Regex", Llama4PreTokenizer.Pattern);
        json.WriteEndObject();
        json.WriteString("behavior", "Isolated");
        json.WriteBoolean("invert", false);
        json.WriteEndObject();
        json.WriteStartObject();
        json.WriteString("type", "ByteLevel");
        json.WriteBoolean("add_prefix_space", false);
        json.WriteBoolean("trim_offsets", true);
        json.WriteBoolean("use_regex", false);
        json.WriteEndObject();
        json.WriteEndArray();
        json.WriteEndObject();
    }

    /// <summary>The byte-level BPE model: the vocabulary (token bytes → id) and the merges that build each token.</summary>
    private static void WriteModel(Utf8JsonWriter json, List<byte[]> tokens)
    {
        json.WriteStartObject("model");
        json.WriteString("type", "BPE");
        json.WriteNull("dropout");
        json.WriteNull("unk_token");
        json.WriteNull("continuing_subword_prefix");
        json.WriteNull("end_of_word_suffix");
        json.WriteBoolean("fuse_unk", false);
        json.WriteBoolean("byte_fallback", false);
        json.WriteBoolean("ignore_merges", true);
        json.WriteStartObject("vocab");
        for (var id = 0; id < tokens.Count; id++)
        {
            json.WriteNumber(ByteLevelUnicode.Encode(tokens[id]), id);
        }

        json.WriteEndObject();
        json.WriteStartArray("merges");
        foreach (var (left, right) in Merges(tokens))
        {
            json.WriteStartArray();
            json.WriteStringValue(ByteLevelUnicode.Encode(left));
            json.WriteStringValue(ByteLevelUnicode.Encode(right));
            json.WriteEndArray();
        }

        json.WriteEndArray();
        json.WriteEndObject();
    }

    private static void WritePostProcessor(Utf8JsonWriter json, int bos)
    {
        // HF prepends BOS when encoding with special tokens; the chat template then must not add a second one.
        json.WriteStartObject("post_processor");
        json.WriteString("type", "TemplateProcessing");
        json.WriteStartArray("single");
        WriteSpecialPiece(json);
        WriteSequencePiece(json, "A");
        json.WriteEndArray();
        json.WriteStartArray("pair");
        WriteSpecialPiece(json);
        WriteSequencePiece(json, "A");
        WriteSpecialPiece(json);
        WriteSequencePiece(json, "B");
        json.WriteEndArray();
        json.WriteStartObject("special_tokens");
        json.WriteStartObject(Llama4SpecialTokens.BeginOfText);
        json.WriteString("id", Llama4SpecialTokens.BeginOfText);
        json.WriteStartArray("ids");
        json.WriteNumberValue(bos);
        json.WriteEndArray();
        json.WriteStartArray("tokens");
        json.WriteStringValue(Llama4SpecialTokens.BeginOfText);
        json.WriteEndArray();
        json.WriteEndObject();
        json.WriteEndObject();
        json.WriteEndObject();
    }

    private static void WriteSpecialPiece(Utf8JsonWriter json)
    {
        json.WriteStartObject();
        json.WriteStartObject("SpecialToken");
        json.WriteString("id", Llama4SpecialTokens.BeginOfText);
        json.WriteNumber("type_id", 0);
        json.WriteEndObject();
        json.WriteEndObject();
    }

    private static void WriteSequencePiece(Utf8JsonWriter json, string id)
    {
        json.WriteStartObject();
        json.WriteStartObject("Sequence");
        json.WriteString("id", id);
        json.WriteNumber("type_id", 0);
        json.WriteEndObject();
        json.WriteEndObject();
    }

    /// <summary>
    /// HF's tiktoken conversion (<c>generate_merges</c>): for every token in rank order, every split into two
    /// tokens, ordered by (left rank, right rank). Merge priority then follows the merged token's rank, which makes
    /// HF's merge-list BPE produce tiktoken's ids.
    /// </summary>
    private static IEnumerable<(byte[] Left, byte[] Right)> Merges(List<byte[]> tokens)
    {
        var rankByKey = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var id = 0; id < tokens.Count; id++)
        {
            rankByKey[BytePairEncoder.ToKey(tokens[id])] = id;
        }

        foreach (var token in tokens)
        {
            var local = new List<(int LeftRank, int RightRank, byte[] Left, byte[] Right)>();
            for (var split = 1; split < token.Length; split++)
            {
                var left = token[..split];
                var right = token[split..];
                if (rankByKey.TryGetValue(BytePairEncoder.ToKey(left), out var leftRank)
                    && rankByKey.TryGetValue(BytePairEncoder.ToKey(right), out var rightRank))
                {
                    local.Add((leftRank, rightRank, left, right));
                }
            }

            foreach (var merge in local.OrderBy(m => m.LeftRank).ThenBy(m => m.RightRank))
            {
                yield return (merge.Left, merge.Right);
            }
        }
    }

    private static byte[] TokenizerConfigJson(Dictionary<string, int> specialIds)
    {
        using var stream = new MemoryStream();
        using (var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            json.WriteStartObject();
            json.WriteStartObject("added_tokens_decoder");
            foreach (var (content, id) in specialIds.OrderBy(kv => kv.Value))
            {
                json.WriteStartObject(id.ToString(System.Globalization.CultureInfo.InvariantCulture));
                json.WriteString("content", content);
                json.WriteBoolean("lstrip", false);
                json.WriteBoolean("normalized", false);
                json.WriteBoolean("rstrip", false);
                json.WriteBoolean("single_word", false);
                json.WriteBoolean("special", true);
                json.WriteEndObject();
            }

            json.WriteEndObject();
            json.WriteString("bos_token", Llama4SpecialTokens.BeginOfText);
            json.WriteString("eos_token", Llama4SpecialTokens.EndOfTurn);
            json.WriteString("pad_token", Llama4SpecialTokens.FinetuneRightPad);
            json.WriteBoolean("clean_up_tokenization_spaces", false);
            json.WriteString("tokenizer_class", "PreTrainedTokenizerFast");
            json.WriteString("chat_template", ChatTemplateJinja);
            json.WriteEndObject();
        }

        return stream.ToArray();
    }

    // Spec §4.2 for plain-text messages (a first system message trimmed), so HF tooling renders the same prompt as ChatTemplate.
    private const string ChatTemplateJinja =
        "{{- bos_token }}{%- for message in messages %}" +
        "{{- '<|header_start|>' + message['role'] + '<|header_end|>\\n\\n' }}" +
        "{%- if message['role'] == 'system' and loop.first %}{{- message['content'] | trim }}{%- else %}{{- message['content'] }}{%- endif %}" +
        "{{- '<|eot|>' }}{%- endfor %}" +
        "{%- if add_generation_prompt %}{{- '<|header_start|>assistant<|header_end|>\\n\\n' }}{%- endif %}";
}
