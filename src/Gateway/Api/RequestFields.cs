using System.Text.Json;

namespace Llama4Cluster.Gateway.Api;

/// <summary>
/// Typed access to a request object's fields. A field that is absent or JSON null reads as null (OpenAI clients send
/// null for "unset"); a field of the wrong type or out of range is a 400 naming it. Unknown fields are never looked at.
/// </summary>
internal readonly struct RequestFields(JsonElement obj)
{
    public JsonElement Object { get; } = obj;

    public bool TryGet(string name, out JsonElement value)
    {
        if (Object.TryGetProperty(name, out value) && value.ValueKind != JsonValueKind.Null)
        {
            return true;
        }

        value = default;
        return false;
    }

    public string? String(string name, string? param = null)
    {
        if (!TryGet(name, out var value))
        {
            return null;
        }

        return value.ValueKind == JsonValueKind.String
            ? Text(value, param ?? name)
            : throw ApiException.WrongType(param ?? name, "a string", value.ValueKind);
    }

    /// <summary>A JSON string's value. JSON can escape a lone UTF-16 surrogate (<c>"\ud800"</c>), which is no text
    /// at all: a 400 naming <paramref name="param"/>.</summary>
    public static string Text(JsonElement value, string param)
    {
        try
        {
            return value.GetString()!;
        }
        catch (InvalidOperationException)
        {
            throw ApiException.BadRequest($"{param} is not valid Unicode text (it holds an unpaired surrogate escape).", param);
        }
    }

    public bool? Bool(string name) =>
        !TryGet(name, out var value) ? null
        : value.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw ApiException.WrongType(name, "a boolean", value.ValueKind),
        };

    /// <summary>A finite number in [<paramref name="min"/>, <paramref name="max"/>].</summary>
    public double? Number(string name, double min = double.MinValue, double max = double.MaxValue, string? range = null)
    {
        if (!TryGet(name, out var value))
        {
            return null;
        }

        if (value.ValueKind != JsonValueKind.Number)
        {
            throw ApiException.WrongType(name, "a number", value.ValueKind);
        }

        if (!value.TryGetDouble(out var number) || !double.IsFinite(number) || number < min || number > max)
        {
            throw ApiException.BadRequest($"{name} must be {range ?? $"a number in [{min}, {max}]"}; got {value.GetRawText()}.", name);
        }

        return number;
    }

    /// <summary>
    /// A finite number in [<paramref name="min"/>, <paramref name="max"/>] as the 32-bit float the sampling parameters hold:
    /// a value fp32 cannot hold (a magnitude beyond 3.4e38, or a non-zero one that rounds to 0, below 1.4e-45) is a 400 naming
    /// the parameter, instead of silently becoming Infinity or 0.
    /// </summary>
    public float? Single(string name, double min = double.MinValue, double max = double.MaxValue, string? range = null)
    {
        if (Number(name, min, max, range) is not { } number)
        {
            return null;
        }

        var single = (float)number;
        if (float.IsInfinity(single) || (single == 0f && number != 0.0))
        {
            throw ApiException.BadRequest(
                $"{name} must be {range ?? "a number"} that a 32-bit float holds (non-zero magnitudes from 1.4e-45 to 3.4e38); " +
                $"got {Object.GetProperty(name).GetRawText()}.",
                name);
        }

        return single;
    }

    /// <summary>A whole number in [<paramref name="min"/>, <paramref name="max"/>] (5.0 counts as 5).</summary>
    public long? Integer(string name, long min = long.MinValue, long max = long.MaxValue, string? range = null)
    {
        if (!TryGet(name, out var value))
        {
            return null;
        }

        return ReadInteger(value, name, min, max, range);
    }

    public static long ReadInteger(JsonElement value, string param, long min, long max, string? range = null)
    {
        if (value.ValueKind != JsonValueKind.Number)
        {
            throw ApiException.WrongType(param, "an integer", value.ValueKind);
        }

        long integer;
        if (!value.TryGetInt64(out integer))
        {
            if (!value.TryGetDouble(out var d) || !double.IsFinite(d) || Math.Floor(d) != d || d < long.MinValue || d >= long.MaxValue)
            {
                throw ApiException.BadRequest($"{param} must be {range ?? "an integer"}; got {value.GetRawText()}.", param);
            }

            integer = (long)d;
        }

        if (integer < min || integer > max)
        {
            var bounds = max >= int.MaxValue
                ? min <= int.MinValue ? $"an integer in [{int.MinValue}, {int.MaxValue}]" : $"an integer >= {min}"
                : $"an integer in [{min}, {max}]";
            throw ApiException.BadRequest($"{param} must be {range ?? bounds}; got {value.GetRawText()}.", param);
        }

        return integer;
    }
}
