using System.Text;

namespace Llama4Cluster.Core.Guidance;

/// <summary>
/// Builds a <see cref="Grammar"/> from fragments (Thompson's construction): literals and byte ranges, sequences,
/// alternatives, repetition (bounded repetition copies its body, so it takes a factory), rules that are called (recursion,
/// and large bodies used in many places), and <see cref="IByteTerminal"/>s.
/// </summary>
internal sealed class GrammarBuilder
{
    /// <summary>Most nodes one constraint may compile to; a bigger one is refused (it would be slow and large).</summary>
    public const int MaxNodes = 1_000_000;

    private readonly List<Draft> _nodes = [];

    public int NodeCount => _nodes.Count;

    public int NewNode()
    {
        if (_nodes.Count >= MaxNodes)
        {
            throw new GuidanceException("size", $"the constraint compiles to more than {MaxNodes:N0} automaton nodes; lower its bounds (maxLength, maxItems, repetition counts).");
        }

        _nodes.Add(new Draft());
        return _nodes.Count - 1;
    }

    public Fragment Empty()
    {
        var n = NewNode();
        return new Fragment(n, n);
    }

    public Fragment Range(byte lo, byte hi)
    {
        var s = NewNode();
        var e = NewNode();
        _nodes[s].Bytes.Add(new ByteEdge(lo, hi, e));
        return new Fragment(s, e);
    }

    /// <summary>Several byte ranges from one node to one node.</summary>
    public Fragment Ranges(IEnumerable<(byte Lo, byte Hi)> ranges)
    {
        var s = NewNode();
        var e = NewNode();
        foreach (var (lo, hi) in ranges)
        {
            _nodes[s].Bytes.Add(new ByteEdge(lo, hi, e));
        }

        return new Fragment(s, e);
    }

    public Fragment Literal(ReadOnlySpan<byte> bytes)
    {
        var s = NewNode();
        var at = s;
        foreach (var b in bytes)
        {
            var next = NewNode();
            _nodes[at].Bytes.Add(new ByteEdge(b, b, next));
            at = next;
        }

        return new Fragment(s, at);
    }

    public Fragment Literal(string text) => Literal(Encoding.UTF8.GetBytes(text));

    public Fragment Seq(params Fragment[] parts)
    {
        if (parts.Length == 0)
        {
            return Empty();
        }

        for (var i = 0; i + 1 < parts.Length; i++)
        {
            Epsilon(parts[i].End, parts[i + 1].Start);
        }

        return new Fragment(parts[0].Start, parts[^1].End);
    }

    public Fragment Alt(IReadOnlyList<Fragment> options)
    {
        var s = NewNode();
        var e = NewNode();
        foreach (var f in options)
        {
            Epsilon(s, f.Start);
            Epsilon(f.End, e);
        }

        return new Fragment(s, e);
    }

    public Fragment Optional(Fragment f) => Alt([f, Empty()]);

    public Fragment Star(Fragment f)
    {
        var s = NewNode();
        var e = NewNode();
        Epsilon(s, f.Start);
        Epsilon(f.End, s);
        Epsilon(s, e);
        return new Fragment(s, e);
    }

    /// <summary><paramref name="make"/>() repeated <paramref name="min"/> to <paramref name="max"/> times (null: no
    /// upper bound). Each copy is a fresh fragment.</summary>
    public Fragment Repeat(Func<Fragment> make, int min, int? max)
    {
        var parts = new List<Fragment>();
        for (var i = 0; i < min; i++)
        {
            parts.Add(make());
        }

        if (max is null)
        {
            parts.Add(Star(make()));
        }
        else
        {
            // x{0,k} as (x (x (x)?)?)?: each optional copy can only be entered after the one before it.
            var end = NewNode();
            var tail = new Fragment(end, end);
            for (var i = max.Value - min; i > 0; i--)
            {
                var copy = make();
                tail = Optional(Seq(copy, tail));
            }

            parts.Add(tail);
        }

        return Seq([.. parts]);
    }

    /// <summary>A rule: a start node and an accepting end node; its body is attached later with <see cref="Define"/>
    /// (so a rule can call itself).</summary>
    public Fragment NewRule()
    {
        var s = NewNode();
        var e = NewNode();
        _nodes[e].Accept = true;
        return new Fragment(s, e);
    }

    public void Define(Fragment rule, Fragment body)
    {
        Epsilon(rule.Start, body.Start);
        Epsilon(body.End, rule.End);
    }

    public Fragment Call(Fragment rule)
    {
        var s = NewNode();
        var e = NewNode();
        _nodes[s].Calls.Add((rule.Start, e));
        return new Fragment(s, e);
    }

    public Fragment Terminal(IByteTerminal terminal)
    {
        var s = NewNode();
        var e = NewNode();
        _nodes[s].Terminal = terminal;
        _nodes[s].TerminalNext = e;
        return new Fragment(s, e);
    }

    public void Epsilon(int from, int to) => _nodes[from].Epsilons.Add(to);

    /// <summary>The grammar whose output is <paramref name="root"/> (wrapped in a rule: its end accepts).</summary>
    public Grammar Build(Fragment root, string description)
    {
        var rule = NewRule();
        Define(rule, root);
        var nodes = new GrammarNode[_nodes.Count];
        for (var i = 0; i < nodes.Length; i++)
        {
            var d = _nodes[i];
            nodes[i] = new GrammarNode
            {
                Bytes = [.. d.Bytes],
                Epsilons = [.. d.Epsilons],
                Calls = [.. d.Calls],
                Accept = d.Accept,
                Terminal = d.Terminal,
                TerminalNext = d.TerminalNext,
            };
        }

        return new Grammar(nodes, rule.Start, description);
    }

    private sealed class Draft
    {
        public List<ByteEdge> Bytes { get; } = [];

        public List<int> Epsilons { get; } = [];

        public List<(int, int)> Calls { get; } = [];

        public bool Accept { get; set; }

        public IByteTerminal? Terminal { get; set; }

        public int TerminalNext { get; set; } = -1;
    }
}
