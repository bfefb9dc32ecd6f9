using Llama4Cluster.Core.Tokenization;

namespace Llama4Cluster.Core.Guidance;

/// <summary>
/// Guided decoding for one attention rank: the vocabulary's <see cref="TokenTrie"/> (built once, on first use, from the
/// tokenizer the rank loads from its model directory) and the compiled constraints, each compiled once and shared by the
/// sequences that use it (an LRU of <see cref="MaxGrammars"/>, also bounded by the automaton states they hold). Not
/// thread-safe: a rank runs one step at a time.
/// </summary>
public sealed class GuidanceEngine
{
    /// <summary>Compiled constraints kept.</summary>
    public const int MaxGrammars = 16;

    /// <summary>Automaton states kept over all cached grammars (about 1 KiB each).</summary>
    public const int MaxCachedStates = 65_536;

    private readonly Func<TokenTrie> _load;
    private readonly Dictionary<string, GuidedGrammar> _grammars = new(StringComparer.Ordinal);
    private readonly List<string> _recent = [];
    private TokenTrie? _trie;
    private Exception? _loadError;

    public GuidanceEngine(TokenTrie vocabulary)
        : this(() => vocabulary)
    {
        ArgumentNullException.ThrowIfNull(vocabulary);
    }

    /// <param name="loadVocabulary">Builds the trie when the first guided sequence arrives (loading a 200k-token
    /// tokenizer takes a moment; ranks that never see one never pay it).</param>
    public GuidanceEngine(Func<TokenTrie> loadVocabulary)
    {
        _load = loadVocabulary ?? throw new ArgumentNullException(nameof(loadVocabulary));
    }

    /// <summary>An engine over the tokenizer in <paramref name="modelDirectory"/>, masks over <paramref name="vocabularySize"/>
    /// ids (the model's logits per step).</summary>
    public static GuidanceEngine ForModelDirectory(string modelDirectory, int vocabularySize)
    {
        ArgumentNullException.ThrowIfNull(modelDirectory);
        return new GuidanceEngine(() => TokenTrie.FromTokenizer(Llama4Tokenizer.Load(modelDirectory), vocabularySize));
    }

    /// <summary>The vocabulary's trie (built on first use).</summary>
    /// <exception cref="InvalidOperationException">The tokenizer could not be loaded (the same error on every later call).</exception>
    public TokenTrie Vocabulary
    {
        get
        {
            if (_trie is not null)
            {
                return _trie;
            }

            if (_loadError is null)
            {
                try
                {
                    _trie = _load();
                    return _trie;
                }
                catch (Exception e) when (e is not OutOfMemoryException)
                {
                    _loadError = e;
                }
            }

            throw new InvalidOperationException($"guided decoding needs the model's tokenizer, which could not be loaded: {_loadError.Message}", _loadError);
        }
    }

    /// <summary>A matcher for one sequence; compiles (or finds) the constraint on first use.</summary>
    public GuidanceMatcher CreateMatcher(GuidanceSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        return new GuidanceMatcher(() => Grammar(spec));
    }

    /// <summary>The compiled constraint for <paramref name="spec"/>, compiled once.</summary>
    /// <exception cref="GuidanceException">The constraint does not compile.</exception>
    public GuidedGrammar Grammar(GuidanceSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var key = spec.CacheKey;
        if (_grammars.TryGetValue(key, out var cached) && cached.StateCount <= MaxCachedStates)
        {
            _recent.Remove(key);
            _recent.Add(key);
            return cached;
        }

        // A grammar whose automaton has grown past the budget (an unbounded json_object, many requests) starts afresh.
        _recent.Remove(key);
        var grammar = new GuidedGrammar(GrammarCompiler.Compile(spec), Vocabulary);
        _grammars[key] = grammar;
        _recent.Add(key);
        while (_recent.Count > 1 && (_recent.Count > MaxGrammars || _grammars.Values.Sum(g => g.StateCount) > MaxCachedStates))
        {
            // Dropped from the cache only: sequences holding it keep using it.
            _grammars.Remove(_recent[0]);
            _recent.RemoveAt(0);
        }

        return grammar;
    }
}
