namespace Llama4Cluster.Core.Guidance;

/// <summary>
/// Runs a <see cref="Grammar"/> as a deterministic automaton over bytes, built lazily: a state is a set of pushdown stacks
/// (all the parses still alive), closed over epsilon edges, calls and returns, and interned, so equal sets are one state id
/// and each (state, byte) transition is computed once and then read from a table. This is what makes the token-trie walk
/// cheap: after warm-up a trie node costs one table read (the idea of llguidance's lazily built lexer automaton).
/// </summary>
/// <remarks>
/// Stacks are interned too (a frame and the id of the stack below it), so a state is a sorted array of stack ids and
/// sharing is structural. Not thread-safe: one rank's grammar serves one step at a time.
/// </remarks>
internal sealed class GrammarAutomaton
{
    public const int Dead = -1;

    /// <summary>Deepest stack accepted: deeper means unbounded recursion without progress (a left-recursive $ref).</summary>
    public const int MaxStackDepth = 2048;

    /// <summary>A transition not computed yet (<see cref="Table"/>).</summary>
    public const int Unknown = -2;

    private readonly GrammarNode[] _nodes;
    private readonly List<StackEntry> _stacks = [];
    private readonly Dictionary<(int Node, int Aux, int Parent), int> _stackIds = [];
    private readonly List<State> _states = [];
    private readonly Dictionary<StateKey, int> _stateIds = [];
    private readonly HashSet<int> _visited = [];
    private readonly Stack<int> _work = new();
    private readonly List<int> _live = [];
    private readonly List<int> _seeds = [];
    private int[] _transitions = new int[256 * 64];

    public GrammarAutomaton(Grammar grammar)
    {
        ArgumentNullException.ThrowIfNull(grammar);
        _nodes = grammar.Nodes;
        _transitions.AsSpan().Fill(Unknown);
        _seeds.Add(Push(grammar.Start, 0, -1));
        Start = Close();
        if (Start == Dead)
        {
            throw new GuidanceException("empty", $"the {grammar.Description} constraint matches nothing.");
        }
    }

    /// <summary>The state before any byte.</summary>
    public int Start { get; }

    /// <summary>States interned so far (each holds a 1 KiB transition row).</summary>
    public int StateCount => _states.Count;

    /// <summary>Transitions computed (each once; later visits read the table).</summary>
    public long Computed { get; private set; }

    /// <summary>True when the text so far is a complete match (the output may end here).</summary>
    public bool IsAccepting(int state) => _states[state].Accepting;

    /// <summary>True when nothing can follow: the output must end here.</summary>
    public bool IsComplete(int state) => _states[state].Live.Length == 0;

    /// <summary>The transition table, <c>[state &lt;&lt; 8 | byte]</c>: a state, <see cref="Dead"/> or
    /// <see cref="Unknown"/> (then call <see cref="Compute"/>, and re-read this: the table may have grown).</summary>
    public int[] Table => _transitions;

    /// <summary>The stacks alive in a state.</summary>
    public ReadOnlySpan<int> Live(int state) => _states[state].Live;

    /// <summary>When stack <paramref name="stack"/> is at a character boundary inside a JSON string, the characters that
    /// still fit (<see cref="int.MaxValue"/>: unbounded); otherwise -1.</summary>
    public int PlainRemaining(int stack)
    {
        var entry = _stacks[stack];
        return _nodes[entry.Node].Terminal is JsonStringTerminal s ? s.Remaining(entry.Aux) : -1;
    }

    /// <summary>The (non-accepting) state whose live stacks are exactly <paramref name="stacks"/> (already closed).</summary>
    public int StateOf(List<int> stacks)
    {
        _live.Clear();
        _live.AddRange(stacks.Distinct());
        return Intern(accepting: false);
    }

    /// <summary>The state after <paramref name="b"/>, or <see cref="Dead"/>.</summary>
    public int Next(int state, byte b)
    {
        var t = _transitions[(state << 8) | b];
        return t != Unknown ? t : Compute(state, b);
    }

    /// <summary>Computes and records the transition of <paramref name="state"/> on <paramref name="b"/>.</summary>
    public int Compute(int state, byte b)
    {
        Computed++;
        foreach (var s in _states[state].Live)
        {
            var entry = _stacks[s];
            var node = _nodes[entry.Node];
            if (node.Terminal is { } terminal)
            {
                var aux = terminal.Step(entry.Aux, b);
                if (aux >= 0)
                {
                    _seeds.Add(Push(entry.Node, aux, entry.Parent));
                }

                continue;
            }

            foreach (var edge in node.Bytes)
            {
                if (b >= edge.Lo && b <= edge.Hi)
                {
                    _seeds.Add(Push(edge.Target, 0, entry.Parent));
                }
            }
        }

        var next = Close();
        _transitions[(state << 8) | b] = next;
        return next;
    }

    /// <summary>The state of the seed stacks after epsilon edges, calls and returns; clears the seeds.</summary>
    private int Close()
    {
        var accepting = false;
        _visited.Clear();
        _live.Clear();
        foreach (var seed in _seeds)
        {
            _work.Push(seed);
        }

        _seeds.Clear();
        while (_work.Count > 0)
        {
            var s = _work.Pop();
            if (!_visited.Add(s))
            {
                continue;
            }

            var entry = _stacks[s];
            var node = _nodes[entry.Node];
            if (node.Terminal is { } terminal)
            {
                if (terminal.CanContinue(entry.Aux))
                {
                    _live.Add(s);
                }

                if (terminal.Accepts(entry.Aux))
                {
                    _work.Push(Push(node.TerminalNext, 0, entry.Parent));
                }

                continue;
            }

            if (node.Bytes.Length > 0)
            {
                _live.Add(s);
            }

            foreach (var e in node.Epsilons)
            {
                _work.Push(Push(e, 0, entry.Parent));
            }

            foreach (var (rule, ret) in node.Calls)
            {
                _work.Push(Push(rule, 0, Push(ret, 0, entry.Parent)));
            }

            if (node.Accept)
            {
                if (entry.Parent < 0)
                {
                    accepting = true;
                }
                else
                {
                    _work.Push(entry.Parent);
                }
            }
        }

        return Intern(accepting);
    }

    private int Intern(bool accepting)
    {
        if (_live.Count == 0 && !accepting)
        {
            return Dead;
        }

        var live = _live.ToArray();
        System.Array.Sort(live);
        var key = new StateKey(live, accepting);
        if (_stateIds.TryGetValue(key, out var id))
        {
            return id;
        }

        id = _states.Count;
        _states.Add(new State(live, accepting));
        _stateIds[key] = id;
        if ((id + 1) << 8 > _transitions.Length)
        {
            var grown = new int[_transitions.Length * 2];
            grown.AsSpan(_transitions.Length).Fill(Unknown);
            _transitions.CopyTo(grown, 0);
            _transitions = grown;
        }

        return id;
    }

    private int Push(int node, int aux, int parent)
    {
        if (_stackIds.TryGetValue((node, aux, parent), out var id))
        {
            return id;
        }

        var depth = parent < 0 ? 1 : _stacks[parent].Depth + 1;
        if (depth > MaxStackDepth)
        {
            throw new GuidanceException("recursion", $"the constraint recurses more than {MaxStackDepth} levels deep without producing text (a $ref that refers to itself first thing?).");
        }

        id = _stacks.Count;
        _stacks.Add(new StackEntry(node, aux, parent, depth));
        _stackIds[(node, aux, parent)] = id;
        return id;
    }

    private readonly record struct StackEntry(int Node, int Aux, int Parent, int Depth);

    private sealed record State(int[] Live, bool Accepting);

    /// <summary>A state's identity: its sorted stack ids and whether it accepts.</summary>
    private readonly struct StateKey(int[] live, bool accepting) : IEquatable<StateKey>
    {
        private readonly int _hash = Hash(live, accepting);

        public int[] Live { get; } = live;

        public bool Accepting { get; } = accepting;

        public bool Equals(StateKey other) => Accepting == other.Accepting && Live.AsSpan().SequenceEqual(other.Live);

        public override bool Equals(object? obj) => obj is StateKey k && Equals(k);

        public override int GetHashCode() => _hash;

        private static int Hash(int[] live, bool accepting)
        {
            var h = new HashCode();
            h.Add(accepting);
            foreach (var s in live)
            {
                h.Add(s);
            }

            return h.ToHashCode();
        }
    }
}
