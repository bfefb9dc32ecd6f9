namespace Llama4Cluster.Core.Guidance;

/// <summary>
/// A terminal of the grammar that is easier to state as code than as byte edges: a JSON string with a length window, a
/// number with bounds. Its state is a small int (0 = nothing read yet) that the automaton keeps in the stack frame and
/// interns, so a state must mean the same thing for the terminal's lifetime.
/// </summary>
internal interface IByteTerminal
{
    /// <summary>The state after <paramref name="b"/>, or -1 when no valid text continues that way.</summary>
    int Step(int state, byte b);

    /// <summary>True when the text read so far is a complete match (the grammar may move past the terminal).</summary>
    bool Accepts(int state);

    /// <summary>True when some byte can follow (a complete match may still be extended).</summary>
    bool CanContinue(int state);
}
