namespace Llama4Cluster.Core.Guidance;

/// <summary>
/// One sequence's position in its constraint. The sampler asks for the allowed tokens before each sample, after
/// <see cref="Sync"/> has advanced the grammar over the tokens generated since the last call — so a sequence resumed on
/// another rank after a failover, whose generated tokens arrive as part of its re-prefill, replays them the same way.
/// The grammar is resolved on first use (a tokenizer that cannot be loaded fails this sequence only).
/// </summary>
public sealed class GuidanceMatcher
{
    private readonly Func<GuidedGrammar> _resolve;
    private GuidedGrammar? _grammar;
    private int _state;

    public GuidanceMatcher(Func<GuidedGrammar> resolve)
    {
        _resolve = resolve ?? throw new ArgumentNullException(nameof(resolve));
    }

    public GuidanceMatcher(GuidedGrammar grammar)
        : this(() => grammar)
    {
        ArgumentNullException.ThrowIfNull(grammar);
    }

    /// <summary>Tokens advanced over so far.</summary>
    public int Consumed { get; private set; }

    /// <summary>The grammar (resolving it on first use).</summary>
    public GuidedGrammar Grammar
    {
        get
        {
            if (_grammar is null)
            {
                _grammar = _resolve();
                _state = _grammar.Start;
            }

            return _grammar;
        }
    }

    /// <summary>True when the output so far is complete: a stop token may end it.</summary>
    public bool CanStop => Grammar.IsAccepting(_state);

    /// <summary>True when nothing may follow: only a stop token is allowed.</summary>
    public bool IsComplete => Grammar.IsComplete(_state);

    /// <summary>Advances over <c>generated[Consumed..]</c>.</summary>
    /// <exception cref="InvalidOperationException">A token the grammar refuses (the sequence was not generated under it).</exception>
    public void Sync(IReadOnlyList<int> generated)
    {
        ArgumentNullException.ThrowIfNull(generated);
        for (var i = Consumed; i < generated.Count; i++)
        {
            Advance(generated[i]);
        }
    }

    /// <exception cref="InvalidOperationException">The grammar refuses <paramref name="tokenId"/>.</exception>
    public void Advance(int tokenId)
    {
        var next = Grammar.Advance(_state, tokenId);
        if (next < 0)
        {
            throw new InvalidOperationException(
                $"guided decoding: token {tokenId} (output token {Consumed}) does not continue the output allowed by the constraint.");
        }

        _state = next;
        Consumed++;
    }

    /// <summary>The text tokens allowed now (bit per id; stop tokens are the sampler's to add when <see cref="CanStop"/>).
    /// Valid until the next call on this grammar.</summary>
    public ReadOnlySpan<ulong> AllowedTokens() => Grammar.Mask(_state);
}
