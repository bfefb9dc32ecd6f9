namespace Llama4Cluster.Gateway.Api;

/// <summary>
/// What one request to <c>/v1/chat/completions</c> or <c>/v1/completions</c> may carry (<see cref="ApiOptions.Limits"/>): a
/// request beyond a limit gets a 400 naming the parameter and the limit, before anything is tokenized or queued. The
/// defaults follow OpenAI where it documents a bound and are generous elsewhere; the body itself is bounded by
/// <see cref="ApiOptions.MaxRequestBodyBytes"/>, and <c>top_logprobs</c> by <see cref="Core.Sampling.SamplingParams.MaxTopLogprobs"/> (20).
/// </summary>
public sealed class RequestLimits
{
    /// <summary>Default <see cref="MaxChoices"/>: OpenAI's bound on <c>n</c>.</summary>
    public const int DefaultMaxChoices = 128;

    /// <summary>Default <see cref="MaxPrompts"/>.</summary>
    public const int DefaultMaxPrompts = 64;

    /// <summary>Default <see cref="MaxSequences"/>: the scheduler's default waiting queue (<c>MaxWaitingRequests</c>), so
    /// that a request the limits accept can be queued whole on an idle server.</summary>
    public const int DefaultMaxSequences = 256;

    /// <summary>Default <see cref="MaxMessages"/>: OpenAI's bound on <c>messages</c>.</summary>
    public const int DefaultMaxMessages = 2048;

    /// <summary>Default <see cref="MaxStopStrings"/>: OpenAI's bound on <c>stop</c>.</summary>
    public const int DefaultMaxStopStrings = 4;

    /// <summary>Default <see cref="MaxStopStringLength"/>.</summary>
    public const int DefaultMaxStopStringLength = 256;

    /// <summary>Default <see cref="MaxStopTokenIds"/>: as many as Llama 4 has special tokens (202,048 − 200,000), so a client
    /// can stop on every one of them.</summary>
    public const int DefaultMaxStopTokenIds = 2048;

    /// <summary>Default <see cref="MaxTools"/>: OpenAI's bound on <c>tools</c>.</summary>
    public const int DefaultMaxTools = 128;

    /// <summary>Default <see cref="MaxImages"/>.</summary>
    public const int DefaultMaxImages = 8;

    /// <summary>Default <see cref="MaxImageBytes"/>: 20 MB, as OpenAI's bound on one image.</summary>
    public const int DefaultMaxImageBytes = 20 << 20;

    /// <summary>Default <see cref="MaxImageTiles"/>: two images at the largest canvas (16 tiles and a global tile each). A
    /// tile travels to the attention rank as 3 · 336² fp32 values (1.35 MB), under the cluster's 64 MB message bound.</summary>
    public const int DefaultMaxImageTiles = 34;

    /// <summary>Default <see cref="MaxImagePixels"/> of a decoded image (a guard against decompression bombs).</summary>
    public const long DefaultMaxImagePixels = 50_000_000;

    /// <summary>Most images in one chat request (<c>image_url</c> parts over all messages).</summary>
    public int MaxImages { get; set; } = DefaultMaxImages;

    /// <summary>Most bytes of one encoded image (after base64 decoding, or as fetched).</summary>
    public int MaxImageBytes { get; set; } = DefaultMaxImageBytes;

    /// <summary>Most tiles the images of one request are cut into (each image's canvas tiles plus its global tile): the vision
    /// tower's work and the size of the prompt's image tokens.</summary>
    public int MaxImageTiles { get; set; } = DefaultMaxImageTiles;

    /// <summary>Most pixels of one decoded image.</summary>
    public long MaxImagePixels { get; set; } = DefaultMaxImagePixels;

    /// <summary>Largest <c>n</c> (choices per prompt).</summary>
    public int MaxChoices { get; set; } = DefaultMaxChoices;

    /// <summary>Most prompts in one <c>/v1/completions</c> request (a <c>prompt</c> array of strings or of token-id arrays).</summary>
    public int MaxPrompts { get; set; } = DefaultMaxPrompts;

    /// <summary>Most sequences one request starts: prompts × <c>n</c> (the 400 names <c>n</c>). At least
    /// <see cref="MaxChoices"/>, so that one prompt may always take the largest <c>n</c>.</summary>
    public int MaxSequences { get; set; } = DefaultMaxSequences;

    /// <summary>Most entries of a chat request's <c>messages</c>.</summary>
    public int MaxMessages { get; set; } = DefaultMaxMessages;

    /// <summary>Most strings in <c>stop</c>.</summary>
    public int MaxStopStrings { get; set; } = DefaultMaxStopStrings;

    /// <summary>Longest stop string, in characters (UTF-16 code units): the text matcher holds back and compares up to this
    /// much of the output per token, per stop string.</summary>
    public int MaxStopStringLength { get; set; } = DefaultMaxStopStringLength;

    /// <summary>Most ids in <c>stop_token_ids</c>.</summary>
    public int MaxStopTokenIds { get; set; } = DefaultMaxStopTokenIds;

    /// <summary>Most functions in a chat request's <c>tools</c>.</summary>
    public int MaxTools { get; set; } = DefaultMaxTools;
}
