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
    private readonly List<int> _strings = [];
    private readonly List<int> _others = [];

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

    /// <summary>Time spent in trie walks.</summary>
    public TimeSpan WalkTime { get; private set; }

    /// <summary>Automaton transitions computed so far (the rest were table reads).</summary>
    public long TransitionsComputed => _automaton.Computed;

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

        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        Walk(state, mask);
        WalkTime += System.Diagnostics.Stopwatch.GetElapsedTime(started);
        Walks++;
        _masks[state] = _recent.AddFirst((state, mask));
        return mask;
    }

    /// <summary>
    /// Sets the bit of every token the automaton accepts from <paramref name="state"/>. Stacks inside a JSON string take
    /// the plain tokens that fit from the vocabulary's precomputed masks and walk only the tree of the other tokens; the
    /// rest of the stacks walk the whole tree (pruned at each refused byte).
    /// </summary>
    private void Walk(int state, ulong[] mask)
    {
        if (_automaton.IsComplete(state))
        {
            return;
        }

        _strings.Clear();
        _others.Clear();
        var room = -1;
        foreach (var stack in _automaton.Live(state))
        {
            var r = _automaton.PlainRemaining(stack);
            if (r >= 0)
            {
                _strings.Add(stack);
                room = Math.Max(room, r);
            }
            else
            {
                _others.Add(stack);
            }
        }

        if (_strings.Count == 0 || _trie.Impure is null)
        {
            WalkTree(_trie, state, mask);
            return;
        }

        var plain = _trie.PlainUpTo(room);
        for (var w = 0; w < mask.Length; w++)
        {
            mask[w] |= plain[w];
        }

        WalkTree(_trie.Impure, _automaton.StateOf(_strings), mask);
        if (_others.Count > 0)
        {
            WalkTree(_trie, _automaton.StateOf(_others), mask);
        }
    }

    /// <summary>One pass over a flattened tree; a refused byte skips its whole subtree.</summary>
    private void WalkTree(TokenTrie tree, int state, ulong[] mask)
    {
        var bytes = tree.Bytes;
        var depth = tree.Depth;
        var end = tree.End;
        var token = tree.Token;
        var same = tree.SameBytes;
        var states = _walk;
        var table = _automaton.Table;
        states[0] = state;
        var n = bytes.Length;
        var i = 1;
        while (i < n)
        {
            int d = depth[i];
            var from = states[d - 1];
            int b = bytes[i];
            var s = table[(from << 8) | b];
            if (s == GrammarAutomaton.Unknown)
            {
                s = _automaton.Compute(from, (byte)b);
                table = _automaton.Table;
            }

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
