using Llama4Cluster.Core.Guidance;

namespace Llama4Cluster.Core.Scheduling;

/// <summary>
/// The one check of a submission against the model, for every host (the gateway's requests, the CLI's and the
/// benchmarks' batches): a prompt that is not empty, every id in the vocabulary (an id outside it would fail its rank's
/// whole step), images that fill the prompt's image patch positions exactly, valid sampling parameters, a guidance constraint that compiles, and room for max tokens in the context.
/// </summary>
internal static class SubmissionCheck
{
    /// <summary>The prompt as a private copy once it passes; <see cref="ArgumentException"/> naming the problem otherwise
    /// (<see cref="ContextLengthExceededException"/> when prompt + max tokens exceed the context).</summary>
    public static int[] Prompt(SequenceSubmission submission, ModelLimits model)
    {
        if (submission.PromptTokens is null || submission.PromptTokens.Count == 0)
            throw new ArgumentException("the prompt is empty: it needs at least one token", nameof(submission));
        if (submission.Sampling is null) throw new ArgumentException("Sampling is required", nameof(submission));
        submission.Sampling.Validate();
        if (submission.Guidance is { } guidance)
        {
            if (submission.Sampling.IgnoreEos && submission.Sampling.StopTokenIds.Count == 0)
                throw new ArgumentException("guided decoding needs a stop token to end the output: ignore_eos leaves none", nameof(submission));
            GrammarCompiler.Validate(guidance);
        }

        var prompt = submission.PromptTokens.ToArray();
        int vocab = model.VocabSize;
        for (int i = 0; i < prompt.Length; i++)
        {
            if ((uint)prompt[i] >= (uint)vocab)
                throw new ArgumentException($"prompt token {i} is {prompt[i]}, outside the model's vocabulary of {vocab} ids (0 to {vocab - 1})", nameof(submission));
        }

        Vision.VisionInputs.CheckPrompt(model.Vision, prompt, submission.Images);

        ContextLengthExceededException.ThrowIfExceeded(prompt.Length, submission.Sampling.MaxTokens, model.MaxModelLength);
        return prompt;
    }
}
