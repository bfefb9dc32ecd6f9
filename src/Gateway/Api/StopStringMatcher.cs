namespace Llama4Cluster.Gateway.Api;

/// <summary>
/// Finds stop strings in a stream of generated text, across token boundaries. Text is released as soon as it can no
/// longer be part of a stop string: only a tail that is a proper prefix of some stop string is held back. Not thread-safe.
/// </summary>
internal sealed class StopStringMatcher
{
    private readonly IReadOnlyList<string> _stops;
    private readonly bool _includeStop;
    private string _pending = string.Empty;

    /// <param name="stops">Non-empty stop strings.</param>
    /// <param name="includeStop">Whether a matched stop string is part of the output (vLLM's
    /// <c>include_stop_str_in_output</c>).</param>
    public StopStringMatcher(IReadOnlyList<string> stops, bool includeStop)
    {
        _stops = stops;
        _includeStop = includeStop;
    }

    /// <summary>Adds new text. Returns the text that may be released now, and the stop string when one matched (then
    /// the released text ends before it, or after it when included, and nothing more may be added).</summary>
    public (string Released, string? Matched) Add(string text)
    {
        if (_stops.Count == 0)
        {
            return (text, null);
        }

        // Every match starts inside _pending: text released earlier had no suffix that began a stop string.
        _pending = _pending.Length == 0 ? text : _pending + text;
        var at = -1;
        string? matched = null;
        foreach (var stop in _stops)
        {
            var index = _pending.IndexOf(stop, StringComparison.Ordinal);
            if (index >= 0 && (at < 0 || index < at || (index == at && stop.Length > matched!.Length)))
            {
                at = index;
                matched = stop;
            }
        }

        if (matched is not null)
        {
            var released = _pending[..(at + (_includeStop ? matched.Length : 0))];
            _pending = string.Empty;
            return (released, matched);
        }

        var hold = HeldBack(_pending);
        var now = _pending[..^hold];
        _pending = _pending[^hold..];
        return (now, null);
    }

    /// <summary>The generation ended without a match: releases what was held back.</summary>
    public string Flush()
    {
        var rest = _pending;
        _pending = string.Empty;
        return rest;
    }

    /// <summary>Length of the longest suffix of <paramref name="text"/> that is a proper prefix of a stop string.</summary>
    private int HeldBack(string text)
    {
        var longest = 0;
        foreach (var stop in _stops)
        {
            for (var k = Math.Min(stop.Length - 1, text.Length); k > longest; k--)
            {
                if (text.AsSpan(text.Length - k).SequenceEqual(stop.AsSpan(0, k)))
                {
                    longest = k;
                    break;
                }
            }
        }

        return longest;
    }
}
