using System.Text;

namespace Llama4Cluster.Core.Tokenization;

/// <summary>
/// The Llama 4 tokenizer (spec §4.1): tiktoken byte-level BPE with the o200k-style pre-tokeniser and 2048 special
/// tokens after the base ranks. Thread-safe.
/// </summary>
public sealed class Llama4Tokenizer
{
    private static readonly UTF8Encoding Utf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: false);

    private readonly BytePairEncoder _bpe;
    private readonly Dictionary<string, int> _specialIds;
    private readonly Dictionary<int, string> _specialTokens;
    private readonly Dictionary<int, byte[]> _specialBytes;

    internal Llama4Tokenizer(BytePairEncoder bpe, IReadOnlyDictionary<string, int> specialTokens, string source)
    {
        _bpe = bpe;
        Source = source;
        _specialIds = new Dictionary<string, int>(specialTokens, StringComparer.Ordinal);
        _specialTokens = new Dictionary<int, string>();
        _specialBytes = new Dictionary<int, byte[]>();
        foreach (var (token, id) in specialTokens)
        {
            if (bpe.GetBytes(id) is not null)
            {
                throw new TokenizerFormatException(source, $"special token {token} has id {id}, which is already a base token.");
            }

            if (!_specialTokens.TryAdd(id, token))
            {
                throw new TokenizerFormatException(source, $"special tokens {_specialTokens[id]} and {token} share id {id}.");
            }

            _specialBytes[id] = Utf8.GetBytes(token);
        }

        BeginOfText = Require(Llama4SpecialTokens.BeginOfText);
        EndOfText = Require(Llama4SpecialTokens.EndOfText);
        HeaderStart = Require(Llama4SpecialTokens.HeaderStart);
        HeaderEnd = Require(Llama4SpecialTokens.HeaderEnd);
        EndOfMessage = Require(Llama4SpecialTokens.EndOfMessage);
        EndOfTurn = Require(Llama4SpecialTokens.EndOfTurn);
        StopTokenIds = [EndOfText, EndOfMessage, EndOfTurn];
        var maxSpecial = _specialTokens.Count == 0 ? -1 : _specialTokens.Keys.Max();
        VocabSize = Math.Max(bpe.IdLimit, maxSpecial + 1);
    }

    /// <summary>The file(s) this tokenizer was loaded from.</summary>
    public string Source { get; }

    /// <summary>Number of ids: base ranks plus special tokens (202048 for Llama 4).</summary>
    public int VocabSize { get; }

    /// <summary>Number of base (BPE) ranks (200000 for Llama 4).</summary>
    public int BaseVocabSize => _bpe.Count;

    public int BeginOfText { get; }

    public int EndOfText { get; }

    public int HeaderStart { get; }

    public int HeaderEnd { get; }

    /// <summary><c>&lt;|eom|&gt;</c>: end of message, a tool result is expected.</summary>
    public int EndOfMessage { get; }

    /// <summary><c>&lt;|eot|&gt;</c>: end of turn.</summary>
    public int EndOfTurn { get; }

    /// <summary>Generation stops on any of these: end_of_text, eom, eot (META <c>stop_tokens</c>).</summary>
    public IReadOnlyList<int> StopTokenIds { get; }

    /// <summary>Special token string → id.</summary>
    public IReadOnlyDictionary<string, int> SpecialTokens => _specialIds;

    /// <summary>True when a tokenizer file is found in <paramref name="modelDirectory"/> (or its <c>original/</c>).</summary>
    public static bool ExistsIn(string modelDirectory)
    {
        ArgumentNullException.ThrowIfNull(modelDirectory);
        return FindTiktokenModel(modelDirectory) is not null
            || File.Exists(Path.Combine(modelDirectory, HuggingFaceTokenizerFiles.TokenizerJson));
    }

    /// <summary>
    /// Loads the tokenizer shipped with a checkpoint. Base ranks come from <c>tokenizer.model</c> (in the directory or
    /// <c>original/</c>) when present, else from <c>tokenizer.json</c>. Special tokens come from <c>tokenizer.json</c>
    /// <c>added_tokens</c> and <c>tokenizer_config.json</c> <c>added_tokens_decoder</c> when present, else META's list
    /// placed after the base ranks.
    /// </summary>
    /// <exception cref="TokenizerFormatException">No tokenizer file, or a malformed one (named in the message).</exception>
    public static Llama4Tokenizer Load(string modelDirectory)
    {
        ArgumentNullException.ThrowIfNull(modelDirectory);
        var modelPath = FindTiktokenModel(modelDirectory);
        var jsonPath = Path.Combine(modelDirectory, HuggingFaceTokenizerFiles.TokenizerJson);
        var configPath = Path.Combine(modelDirectory, HuggingFaceTokenizerFiles.TokenizerConfigJson);
        var hasJson = File.Exists(jsonPath);
        if (modelPath is null && !hasJson)
        {
            throw new TokenizerFormatException(
                Path.Combine(modelDirectory, TiktokenModelFile.FileName),
                $"no tokenizer found: expected {TiktokenModelFile.FileName} (in the directory or original/) or {HuggingFaceTokenizerFiles.TokenizerJson}.");
        }

        Dictionary<string, int>? ranks = null;
        var specials = new Dictionary<string, int>(StringComparer.Ordinal);
        var sources = new List<string>();
        if (modelPath is not null)
        {
            ranks = TiktokenModelFile.Read(modelPath);
            sources.Add(modelPath);
        }

        if (hasJson)
        {
            var (jsonRanks, added) = HuggingFaceTokenizerFiles.ReadTokenizerJson(jsonPath);
            ranks ??= jsonRanks;
            AddSpecials(specials, added, ranks);
            sources.Add(jsonPath);
        }

        if (File.Exists(configPath))
        {
            AddSpecials(specials, HuggingFaceTokenizerFiles.ReadTokenizerConfig(configPath), ranks!);
            sources.Add(configPath);
        }

        if (specials.Count == 0)
        {
            for (var i = 0; i < Llama4SpecialTokens.MetaList.Count; i++)
            {
                specials[Llama4SpecialTokens.MetaList[i]] = ranks!.Count + i;
            }
        }

        return new Llama4Tokenizer(new BytePairEncoder(ranks!), specials, string.Join(", ", sources));
    }

    /// <summary>
    /// Loads a bare tiktoken file (e.g. META's <c>tokenizer.model</c>) with META's special-token list after its ranks.
    /// </summary>
    /// <exception cref="TokenizerFormatException">The file is missing or malformed.</exception>
    public static Llama4Tokenizer LoadTiktokenFile(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        var ranks = TiktokenModelFile.Read(path);
        var specials = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < Llama4SpecialTokens.MetaList.Count; i++)
        {
            specials[Llama4SpecialTokens.MetaList[i]] = ranks.Count + i;
        }

        return new Llama4Tokenizer(new BytePairEncoder(ranks), specials, path);
    }

    /// <summary>
    /// Encodes plain text. Special-token strings in <paramref name="text"/> are NOT parsed: a literal
    /// <c>&lt;|eot|&gt;</c> becomes ordinary text tokens (META's behaviour). No BOS is added.
    /// </summary>
    public IReadOnlyList<int> Encode(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var ids = new List<int>(text.Length / 3 + 1);
        foreach (var piece in Llama4PreTokenizer.Split(text))
        {
            _bpe.EncodePiece(piece, ids);
        }

        return ids;
    }

    /// <summary>
    /// Decodes ids to text. Special tokens decode to their strings unless <paramref name="skipSpecialTokens"/>.
    /// Invalid UTF-8 (e.g. a cut multi-byte character) becomes U+FFFD; for streaming use
    /// <see cref="CreateIncrementalDecoder"/>.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">An id is not in the vocabulary.</exception>
    public string Decode(IEnumerable<int> ids, bool skipSpecialTokens = false)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var bytes = new List<byte>();
        foreach (var id in ids)
        {
            AppendBytes(id, skipSpecialTokens, bytes);
        }

        return Utf8.GetString(bytes.ToArray());
    }

    /// <summary>A decoder for one generated stream; see <see cref="IncrementalDecoder"/>.</summary>
    public IncrementalDecoder CreateIncrementalDecoder(bool skipSpecialTokens = false) => new(this, skipSpecialTokens);

    /// <summary>The id of a special token string, or null.</summary>
    public int? TryGetSpecialTokenId(string token) => _specialIds.TryGetValue(token, out var id) ? id : null;

    /// <summary>True when <paramref name="id"/> is a special token.</summary>
    public bool IsSpecial(int id) => _specialTokens.ContainsKey(id);

    /// <summary>The bytes id <paramref name="id"/> stands for (a special token: its UTF-8 string).</summary>
    /// <exception cref="ArgumentOutOfRangeException">The id is not in the vocabulary.</exception>
    public ReadOnlySpan<byte> GetTokenBytes(int id) =>
        _bpe.GetBytes(id) ?? (_specialBytes.TryGetValue(id, out var special)
            ? special
            : throw new ArgumentOutOfRangeException(nameof(id), id, $"Token id {id} is not in the vocabulary (size {VocabSize})."));

    internal void AppendBytes(int id, bool skipSpecialTokens, List<byte> output)
    {
        if (skipSpecialTokens && IsSpecial(id))
        {
            return;
        }

        foreach (var b in GetTokenBytes(id))
        {
            output.Add(b);
        }
    }

    private int Require(string token) =>
        _specialIds.TryGetValue(token, out var id)
            ? id
            : throw new TokenizerFormatException(Source, $"the special token {token} is missing.");

    private static void AddSpecials(Dictionary<string, int> specials, Dictionary<string, int> added, Dictionary<string, int> ranks)
    {
        var baseIds = ranks.Count;
        foreach (var (content, id) in added)
        {
            // HF may list ordinary vocabulary entries as added tokens; those are base tokens, not specials.
            if (id < baseIds && id >= 0 && ranks.ContainsValue(id))
            {
                continue;
            }

            specials[content] = id;
        }
    }

    private static string? FindTiktokenModel(string modelDirectory)
    {
        foreach (var candidate in new[]
                 {
                     Path.Combine(modelDirectory, TiktokenModelFile.FileName),
                     Path.Combine(modelDirectory, "original", TiktokenModelFile.FileName),
                 })
        {
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        return null;
    }
}
