namespace Llama4Cluster.Core.Sampling;

/// <summary>
/// Log-probabilities of the raw model logits: log_softmax before penalties and temperature, which is vLLM's
/// default <c>logprobs_mode</c> (<c>raw_logprobs</c>) and what the OpenAI API reports.
/// </summary>
internal static class RawLogprobs
{
    /// <summary>
    /// log(sum(exp(logits))), computed stably as <c>max + log(sum(exp(logit - max)))</c> with double accumulators
    /// (<see cref="VectorMath.SumExpShifted"/>).
    /// </summary>
    /// <param name="logits">Finite logits.</param>
    /// <param name="max">Their maximum.</param>
    public static double LogSumExp(ReadOnlySpan<float> logits, float max)
    {
        return max + Math.Log(VectorMath.SumExpShifted(logits, max));
    }

    /// <summary>
    /// Fills <paramref name="top"/> with the ids of the <c>top.Length</c> largest logits, largest first; equal logits
    /// put the lower id first. One pass with insertion into a sorted window: O(vocabulary * n), n &lt;= 20.
    /// </summary>
    /// <param name="logits">The raw logits; <c>logits.Length &gt;= top.Length</c>.</param>
    /// <param name="top">Destination for the ids.</param>
    public static void TopN(ReadOnlySpan<float> logits, Span<int> top)
    {
        var n = top.Length;
        if (n == 0)
        {
            return;
        }

        var filled = 0;
        var smallest = float.NegativeInfinity; // logit of top[n - 1] once the window is full
        for (var id = 0; id < logits.Length; id++)
        {
            var x = logits[id];

            // Ids arrive in ascending order, so an equal logit never displaces an earlier id.
            if (filled == n && !(x > smallest))
            {
                continue;
            }

            var j = filled == n ? n - 1 : filled++;
            while (j > 0 && x > logits[top[j - 1]])
            {
                top[j] = top[j - 1];
                j--;
            }

            top[j] = id;
            if (filled == n)
            {
                smallest = logits[top[n - 1]];
            }
        }
    }
}
