namespace Llama4Cluster.Core.Guidance;

/// <summary>
/// A compiled constraint, independent of any tokenizer: a byte-level pushdown automaton. Each node is a position inside a
/// rule; it has byte-range edges, epsilon edges, calls (push a return node, continue at a rule's start), an accept flag
/// (the end of its rule: return to the caller, or, at the bottom, the whole output is complete), or is a terminal
/// (<see cref="IByteTerminal"/>) followed by a next node. Immutable once built; <see cref="GuidedGrammar"/> runs it.
/// </summary>
internal sealed class Grammar
{
    internal Grammar(GrammarNode[] nodes, int start, string description)
    {
        Nodes = nodes;
        Start = start;
        Description = description;
    }

    public GrammarNode[] Nodes { get; }

    /// <summary>The root rule's start node.</summary>
    public int Start { get; }

    /// <summary>What was compiled (for messages).</summary>
    public string Description { get; }
}

/// <summary>One position of the automaton (see <see cref="Grammar"/>).</summary>
internal sealed class GrammarNode
{
    public static readonly GrammarNode Empty = new();

    /// <summary>Byte ranges [Lo, Hi] and the node each leads to.</summary>
    public ByteEdge[] Bytes { get; init; } = [];

    public int[] Epsilons { get; init; } = [];

    /// <summary>(rule start, return node) pairs.</summary>
    public (int Rule, int Return)[] Calls { get; init; } = [];

    /// <summary>The end of the node's rule.</summary>
    public bool Accept { get; init; }

    /// <summary>Set on a terminal node: its matcher; <see cref="TerminalNext"/> follows a complete match.</summary>
    public IByteTerminal? Terminal { get; init; }

    public int TerminalNext { get; init; } = -1;
}

/// <summary>A byte-range edge.</summary>
internal readonly record struct ByteEdge(byte Lo, byte Hi, int Target);
