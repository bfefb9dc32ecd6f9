using Llama4Cluster.Core.Scheduling;

namespace Llama4Cluster.Gateway.Api;

/// <summary>
/// A checked request ready to submit: its prompts and the sequences (choices) to generate from them. Choice indices
/// follow vLLM: prompt p's choices are p·n … p·n + n − 1.
/// </summary>
internal sealed class GenerationPlan
{
    private GenerationPlan(
        GenerationParameters parameters, IReadOnlyList<PlannedPrompt> prompts, IReadOnlyList<PlannedSequence> sequences, ToolParsing? tools)
    {
        Parameters = parameters;
        Prompts = prompts;
        Sequences = sequences;
        Tools = tools;
    }

    public GenerationParameters Parameters { get; }

    public IReadOnlyList<PlannedPrompt> Prompts { get; }

    public IReadOnlyList<PlannedSequence> Sequences { get; }

    /// <summary>How answers are read for tool calls (a chat request with tools, unless <c>tool_choice</c> is none), or null.</summary>
    public ToolParsing? Tools { get; }

    /// <summary>Prompt tokens of the usage block: each prompt counted once, however many choices it has.</summary>
    public int PromptTokens => Prompts.Sum(p => p.TokenIds.Count);

    /// <summary>Sets every prompt's completion bound and checks it against the context, as vLLM does.</summary>
    /// <param name="parameters">The request's parameters.</param>
    /// <param name="prompts">The tokenized prompts.</param>
    /// <param name="maxModelLength">Longest prompt + completion.</param>
    /// <param name="defaultMaxTokens">The bound when the request sets none (capped by the rest of the context); null: the
    /// rest of the context.</param>
    /// <param name="promptName">How the error messages call the prompt ("messages" or "prompt").</param>
    /// <param name="maxSequences">Most sequences (prompts × n) one request may start (<see cref="RequestLimits.MaxSequences"/>).</param>
    /// <param name="tools">How answers are read for tool calls, or null.</param>
    /// <exception cref="ApiException">400 <c>context_length_exceeded</c>, or 400 naming <c>n</c> beyond <paramref name="maxSequences"/>.</exception>
    public static GenerationPlan Create(
        GenerationParameters parameters,
        IReadOnlyList<PlannedPrompt> prompts,
        int maxModelLength,
        int? defaultMaxTokens,
        string promptName,
        int maxSequences,
        ToolParsing? tools = null)
    {
        if ((long)prompts.Count * parameters.N > maxSequences)
        {
            throw ApiException.BadRequest(
                $"{prompts.Count} prompts × n = {parameters.N} would start {(long)prompts.Count * parameters.N} sequences; " +
                $"at most {maxSequences} are accepted in one request: lower n or send fewer prompts.",
                "n");
        }

        var sequences = new List<PlannedSequence>(prompts.Count * parameters.N);
        for (var p = 0; p < prompts.Count; p++)
        {
            var promptLength = prompts[p].TokenIds.Count;
            var requested = parameters.MaxTokens;
            try
            {
                ContextLengthExceededException.ThrowIfExceeded(promptLength, requested, maxModelLength, promptName);
            }
            catch (ContextLengthExceededException e)
            {
                throw ApiException.BadRequest(e.Message, promptName, "context_length_exceeded");
            }

            // Unset: the default bound (if any), never beyond the rest of the context.
            var maxTokens = requested ?? Math.Min(defaultMaxTokens ?? int.MaxValue, maxModelLength - promptLength);
            for (var i = 0; i < parameters.N; i++)
            {
                sequences.Add(new PlannedSequence(p * parameters.N + i, p, parameters.ForChoice(i, maxTokens)));
            }
        }

        return new GenerationPlan(parameters, prompts, sequences, tools);
    }
}
