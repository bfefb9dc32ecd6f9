using System.Numerics;

namespace Llama4Cluster.Core.Guidance;

/// <summary>
/// A compiled constraint bound to one vocabulary: its lazily built automaton (<see cref="GrammarAutomaton"/>) and the
/// token masks of its states. A mask is computed by walking the <see cref="TokenTrie"/> with the automaton (a subtree is
/// skipped as soon as its first byte is refused) and kept in a small LRU cache keyed by state: a state that recurs — inside
/// an unbounded string, between the members of an object — costs a copy after the first time. Shared by the sequences of
/// one rank with the same constraint; not thread-safe (one step at a time).
/// </summary>
public sealed class GuidedGrammar
{
    /// <summary>Masks kept per grammar (each <see cref="TokenTrie.MaskWords"/> × 8 bytes: 25 KB at V = 202,048).</summary>
    public const int MaxCachedMasks = 64;

    private readonly GrammarAutomaton _automaton;
    private readonly TokenTrie _trie;
    private readonly Dictionary<int, LinkedListNode<(int State, ulong[] Mask)>> _masks = [];
    private readonly LinkedList<(int State, ulong[] Mask)> _recent = new();
    private readonly int[] _walk;

    internal GuidedGrammar(Grammar grammar, TokenTrie trie)
    {
        _automaton = new GrammarAutomaton(grammar);
        _trie = trie;
        _walk = new int[trie.MaxDepth + 1];
    }

    public TokenTrie Vocabulary => _trie;

    /// <summary>The state before any output.</summary>
    public int Start => _automaton.Start;

    /// <summary>Automaton states built so far (memory: about 1 KiB each).</summary>
    public int StateCount => _automaton.StateCount;

    /// <summary>Masks computed by a trie walk (cache misses).</summary>
    public long Walks { get; private set; }

    /// <summary>Masks answered from the cache.</summary>
    public long CacheHits { get; private set; }

    /// <summary>True when the output may end in <paramref name="state"/>.</summary>
    public bool IsAccepting(int state) => _automaton.IsAccepting(state);

    /// <summary>True when the output must end in <paramref name="state"/>.</summary>
    public bool IsComplete(int state) => _automaton.IsComplete(state);

    /// <summary>The state after token <paramref name="tokenId"/>'s bytes, or -1 when the grammar refuses it (a special
    /// token or an id outside the vocabulary included).</summary>
    public int Advance(int state, int tokenId)
    {
        if (_trie.TokenBytes(tokenId) is not { } bytes)
        {
            return GrammarAutomaton.Dead;
        }

        foreach (var b in bytes)
        {
            state = _automaton.Next(state, b);
            if (state < 0)
            {
                return GrammarAutomaton.Dead;
            }
        }

        return state;
    }

    /// <summary>The text tokens allowed in <paramref name="state"/>: bit <c>id</c> of the span (64 ids a word). Valid until
    /// the next call.</summary>
    public ReadOnlySpan<ulong> Mask(int state)
    {
        if (_masks.TryGetValue(state, out var hit))
        {
            _recent.Remove(hit);
            _recent.AddFirst(hit);
            CacheHits++;
            return hit.Value.Mask;
        }

        ulong[] mask;
        if (_masks.Count >= MaxCachedMasks)
        {
            var last = _recent.Last!;
            _recent.RemoveLast();
            _masks.Remove(last.Value.State);
            mask = last.Value.Mask;
            System.Array.Clear(mask);
        }
        else
        {
            mask = new ulong[_trie.MaskWords];
        }

        Walk(state, mask);
        Walks++;
        _masks[state] = _recent.AddFirst((state, mask));
        return mask;
    }

    /// <summary>Sets the bit of every token whose bytes the automaton accepts from <paramref name="state"/>.</summary>
    private void Walk(int state, ulong[] mask)
    {
        if (_automaton.IsComplete(state))
        {
            return;
        }

        var bytes = _trie.Bytes;
        var depth = _trie.Depth;
        var end = _trie.End;
        var token = _trie.Token;
        var same = _trie.SameBytes;
        var states = _walk;
        states[0] = state;
        var n = bytes.Length;
        var i = 1;
        while (i < n)
        {
            int d = depth[i];
            var s = _automaton.Next(states[d - 1], bytes[i]);
            if (s < 0)
            {
                i = end[i];
                continue;
            }

            states[d] = s;
            for (var t = token[i]; t >= 0; t = same[t])
            {
                mask[t >> 6] |= 1UL << t;
            }

            i++;
        }
    }

    /// <summary>Number of set bits of a mask (tests, benchmarks).</summary>
    public static int Count(ReadOnlySpan<ulong> mask)
    {
        var n = 0;
        foreach (var w in mask)
        {
            n += BitOperations.PopCount(w);
        }

        return n;
    }
}
