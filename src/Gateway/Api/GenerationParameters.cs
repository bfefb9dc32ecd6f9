using System.Text.Json;
using Llama4Cluster.Core.Guidance;
using Llama4Cluster.Core.Sampling;

namespace Llama4Cluster.Gateway.Api;

/// <summary>
/// The generation parameters shared by <c>/v1/chat/completions</c> and <c>/v1/completions</c>, read and checked:
/// the OpenAI ones plus vLLM's extensions (<c>top_k</c>, <c>min_p</c>, <c>repetition_penalty</c>, <c>ignore_eos</c>,
/// <c>stop_token_ids</c>, <c>skip_special_tokens</c>, <c>include_stop_str_in_output</c>) and structured output
/// (<see cref="GuidanceRequest"/>).
/// </summary>
internal sealed record GenerationParameters
{
    /// <summary>Sampling without <see cref="SamplingParams.MaxTokens"/> (set per prompt once its length is known) and,
    /// with <see cref="N"/> &gt; 1, without the per-choice seed offset.</summary>
    public required SamplingParams Sampling { get; init; }

    /// <summary>The requested completion bound; null: the rest of the context (chat) or vLLM's default 16 (completions).</summary>
    public int? MaxTokens { get; init; }

    public int N { get; init; } = 1;

    public IReadOnlyList<string> Stop { get; init; } = [];

    public bool IncludeStopStringInOutput { get; init; }

    public bool SkipSpecialTokens { get; init; } = true;

    public bool Stream { get; init; }

    public bool IncludeUsage { get; init; }

    /// <summary>Structured output (<see cref="GuidanceRequest"/>), or null.</summary>
    public GuidanceSpec? Guidance { get; init; }

    /// <summary>Whether logprobs are returned; the count of alternatives is <see cref="SamplingParams.TopLogprobs"/>.</summary>
    public bool Logprobs => Sampling.TopLogprobs is not null;

    /// <summary>Reads the parameters of <paramref name="fields"/>.</summary>
    /// <param name="fields">The request object.</param>
    /// <param name="chat">Chat (<c>logprobs</c> a boolean, <c>top_logprobs</c> a count, <c>max_completion_tokens</c>)
    /// or legacy completions (<c>logprobs</c> a count).</param>
    /// <param name="vocabSize">Bounds the ids of <c>stop_token_ids</c>.</param>
    /// <param name="limits">Bound <c>n</c>, <c>stop</c> and <c>stop_token_ids</c>.</param>
    /// <exception cref="ApiException">400 naming the first bad parameter.</exception>
    public static GenerationParameters Read(RequestFields fields, bool chat, int vocabSize, RequestLimits limits)
    {
        RejectUnsupported(fields);
        var maxTokens = chat
            ? fields.Integer("max_completion_tokens", 1, int.MaxValue) ?? fields.Integer("max_tokens", 1, int.MaxValue)
            : fields.Integer("max_tokens", 1, int.MaxValue);
        var n = (int)(fields.Integer("n", 1, limits.MaxChoices) ?? 1);
        var stream = fields.Bool("stream") ?? false;
        var includeUsage = false;
        if (fields.TryGet("stream_options", out var streamOptions))
        {
            if (streamOptions.ValueKind != JsonValueKind.Object)
            {
                throw ApiException.WrongType("stream_options", "an object", streamOptions.ValueKind);
            }

            if (!stream)
            {
                throw ApiException.BadRequest("stream_options can only be set when stream is true.", "stream_options");
            }

            includeUsage = new RequestFields(streamOptions).Bool("include_usage") ?? false;
        }

        _ = fields.String("user");
        var topLogprobs = chat ? ChatLogprobs(fields) : (int?)fields.Integer("logprobs", 0, SamplingParams.MaxTopLogprobs);
        var sampling = new SamplingParams
        {
            // vLLM's default sampling when the model ships no generation_config: temperature 1, no truncation.
            // Ranges as vLLM checks them (SamplingParams.Validate); Single also refuses what fp32 cannot hold.
            Temperature = fields.Single("temperature", range: "a number >= 0 (0 is greedy decoding)", min: 0) ?? 1f,
            TopP = fields.Single("top_p", range: "a number in (0, 1]") ?? 1f,
            TopK = (int)(fields.Integer("top_k", int.MinValue, int.MaxValue) ?? 0),
            MinP = fields.Single("min_p", range: "a number in [0, 1]") ?? 0f,
            Seed = fields.Integer("seed"),
            PresencePenalty = fields.Single("presence_penalty", range: "a number in [-2, 2]") ?? 0f,
            FrequencyPenalty = fields.Single("frequency_penalty", range: "a number in [-2, 2]") ?? 0f,
            RepetitionPenalty = fields.Single("repetition_penalty", range: "a number > 0 (1 disables it)") ?? 1f,
            IgnoreEos = fields.Bool("ignore_eos") ?? false,
            StopTokenIds = StopTokenIds(fields, vocabSize, limits.MaxStopTokenIds),
            TopLogprobs = topLogprobs,
            MaxTokens = 1,
        };
        Validate(sampling, chat);
        return new GenerationParameters
        {
            Sampling = sampling,
            MaxTokens = (int?)maxTokens,
            N = n,
            Stop = StopStrings(fields, limits),
            IncludeStopStringInOutput = fields.Bool("include_stop_str_in_output") ?? false,
            SkipSpecialTokens = fields.Bool("skip_special_tokens") ?? true,
            Stream = stream,
            IncludeUsage = includeUsage,
            Guidance = GuidanceRequest.Read(fields),
        };
    }

    /// <summary>The sampling of choice <paramref name="choice"/> of a prompt: with a seed, choice i uses seed + i so
    /// that the n choices differ but the request stays reproducible.</summary>
    public SamplingParams ForChoice(int choice, int maxTokens) => Sampling with
    {
        MaxTokens = maxTokens,
        Seed = Sampling.Seed is { } seed ? unchecked(seed + choice) : null,
    };

    private static int? ChatLogprobs(RequestFields fields)
    {
        var logprobs = fields.Bool("logprobs") ?? false;
        var top = fields.Integer("top_logprobs", 0, SamplingParams.MaxTopLogprobs);
        if (top is not null && !logprobs)
        {
            throw ApiException.BadRequest("top_logprobs requires logprobs to be true.", "top_logprobs");
        }

        return logprobs ? (int)(top ?? 0) : null;
    }

    private static List<int> StopTokenIds(RequestFields fields, int vocabSize, int maxCount)
    {
        if (!fields.TryGet("stop_token_ids", out var value))
        {
            return [];
        }

        if (value.ValueKind != JsonValueKind.Array)
        {
            throw ApiException.WrongType("stop_token_ids", "an array of token ids", value.ValueKind);
        }

        if (value.GetArrayLength() > maxCount)
        {
            throw ApiException.BadRequest(
                $"stop_token_ids takes at most {maxCount} token ids; got {value.GetArrayLength()}.", "stop_token_ids");
        }

        var ids = new List<int>(value.GetArrayLength());
        foreach (var item in value.EnumerateArray())
        {
            ids.Add((int)RequestFields.ReadInteger(item, "stop_token_ids", 0, vocabSize - 1, $"an array of token ids in [0, {vocabSize - 1}]"));
        }

        return ids;
    }

    private static List<string> StopStrings(RequestFields fields, RequestLimits limits)
    {
        if (!fields.TryGet("stop", out var value))
        {
            return [];
        }

        var stops = new List<string>();
        if (value.ValueKind == JsonValueKind.String)
        {
            stops.Add(RequestFields.Text(value, "stop"));
        }
        else if (value.ValueKind == JsonValueKind.Array)
        {
            // Counted before reading: a million stop strings are refused without a million strings.
            if (value.GetArrayLength() > limits.MaxStopStrings)
            {
                throw ApiException.BadRequest($"stop takes at most {limits.MaxStopStrings} strings; got {value.GetArrayLength()}.", "stop");
            }

            foreach (var item in value.EnumerateArray())
            {
                if (item.ValueKind != JsonValueKind.String)
                {
                    throw ApiException.WrongType("stop", "a string or an array of strings", item.ValueKind);
                }

                stops.Add(RequestFields.Text(item, "stop"));
            }
        }
        else
        {
            throw ApiException.WrongType("stop", "a string or an array of strings", value.ValueKind);
        }

        if (stops.Any(s => s.Length == 0))
        {
            throw ApiException.BadRequest("stop strings must not be empty.", "stop");
        }

        if (stops.FirstOrDefault(s => s.Length > limits.MaxStopStringLength) is { } tooLong)
        {
            throw ApiException.BadRequest(
                $"stop strings may be at most {limits.MaxStopStringLength} characters long; got one of {tooLong.Length}.", "stop");
        }

        return stops.Distinct(StringComparer.Ordinal).ToList();
    }

    /// <summary>Parameters that would change the output but that this server cannot honour: a clear 400 rather than
    /// a silently different result.</summary>
    private static void RejectUnsupported(RequestFields fields)
    {
        if (fields.Integer("best_of", 1, int.MaxValue) is > 1)
        {
            throw ApiException.BadRequest("best_of > 1 is not supported; use n for several choices.", "best_of");
        }

        if (fields.Bool("use_beam_search") == true)
        {
            throw ApiException.BadRequest("Beam search is not supported.", "use_beam_search");
        }

        if (fields.Integer("min_tokens", 0, int.MaxValue) is > 0)
        {
            throw ApiException.BadRequest("min_tokens is not supported.", "min_tokens");
        }

        if (fields.TryGet("logit_bias", out var bias)
            && (bias.ValueKind != JsonValueKind.Object || bias.EnumerateObject().Any()))
        {
            throw ApiException.BadRequest("logit_bias is not supported.", "logit_bias");
        }

    }

    private static void Validate(SamplingParams sampling, bool chat)
    {
        try
        {
            sampling.Validate();
        }
        catch (ArgumentException e)
        {
            var param = ApiName(e.ParamName, chat);
            var message = e.Message;
            var cut = message.IndexOf(" (Parameter '", StringComparison.Ordinal);
            if (cut >= 0)
            {
                message = message[..cut];
            }

            if (e.ParamName is { } name && message.StartsWith(name, StringComparison.Ordinal))
            {
                message = param + message[name.Length..];
            }

            throw ApiException.BadRequest(message, param);
        }
    }

    private static string? ApiName(string? property, bool chat) => property switch
    {
        nameof(SamplingParams.Temperature) => "temperature",
        nameof(SamplingParams.TopP) => "top_p",
        nameof(SamplingParams.TopK) => "top_k",
        nameof(SamplingParams.MinP) => "min_p",
        nameof(SamplingParams.Seed) => "seed",
        nameof(SamplingParams.RepetitionPenalty) => "repetition_penalty",
        nameof(SamplingParams.PresencePenalty) => "presence_penalty",
        nameof(SamplingParams.FrequencyPenalty) => "frequency_penalty",
        nameof(SamplingParams.StopTokenIds) => "stop_token_ids",
        nameof(SamplingParams.TopLogprobs) => chat ? "top_logprobs" : "logprobs",
        nameof(SamplingParams.MaxTokens) => chat ? "max_completion_tokens" : "max_tokens",
        _ => property,
    };
}
