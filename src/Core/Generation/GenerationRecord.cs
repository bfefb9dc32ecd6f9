using Llama4Cluster.Core.Sampling;

namespace Llama4Cluster.Core.Generation;

/// <summary>
/// The caller's record of one sequence's generated tokens, shared by the local and the distributed
/// engines: applies stop tokens (not emitted) and the token limit, and reports tokens as they come.
/// </summary>
public sealed class GenerationRecord(int index, GenerationRequest request, Func<int, bool> isStop)
{
    private readonly List<int> _emitted = new();
    private readonly List<SampledToken> _details = new();
    private FinishReason _reason;
    private int? _stopToken;

    /// <summary>The request's position in its batch (what <c>onToken</c> receives).</summary>
    public int Index { get; } = index;

    public GenerationRequest Request { get; } = request;

    public bool Finished { get; private set; }

    /// <summary>Tokens emitted so far.</summary>
    public IReadOnlyList<int> Emitted => _emitted;

    /// <summary>The last emitted token: the next one to feed to the model.</summary>
    public int LastToken => _emitted[^1];

    public void Accept(SampledToken token, Action<int, SampledToken>? onToken)
    {
        if (isStop(token.TokenId))
        {
            Finished = true;
            _reason = FinishReason.Stop;
            _stopToken = token.TokenId;
            return;
        }
        _emitted.Add(token.TokenId);
        _details.Add(token);
        onToken?.Invoke(Index, token);
        if (_emitted.Count >= Request.Sampling.MaxTokens)
        {
            Finished = true;
            _reason = FinishReason.Length;
        }
    }

    public GenerationResult Result() => new(_emitted, _details, _reason, _stopToken);
}
