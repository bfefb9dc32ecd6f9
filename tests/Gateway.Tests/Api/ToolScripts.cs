using System.Text.Json;
using System.Text.RegularExpressions;
using Llama4Cluster.Core.Tokenization;
using Llama4Cluster.Core.Tools;

namespace Llama4Cluster.Gateway.Tests.Api;

/// <summary>What the tool-calling tests send and script: one weather function, and answers written as token ids.</summary>
internal static class ToolScripts
{
    public const string WeatherParameters = """{"type":"object","properties":{"city":{"type":"string"},"days":{"type":"array","items":{"type":"integer"}}},"required":["city"]}""";

    public static readonly ToolDefinition Weather = new("get_weather", "Weather of a city", WeatherParameters);

    public static readonly string WeatherTool =
        $$$"""{"type":"function","function":{"name":"get_weather","description":"Weather of a city","parameters":{{{WeatherParameters}}}}}""";

    /// <summary>A chat body with the weather tool and <paramref name="extra"/> fields.</summary>
    public static string Body(string userText, string extra = "") =>
        $$"""{"model":"{{ApiServerFixture.ModelId}}","messages":[{"role":"user","content":{{JsonSerializer.Serialize(userText)}}}],"tools":[{{WeatherTool}}]{{extra}}}""";

    /// <summary>The ids of an answer: special-token strings become their ids, the text between them is encoded.</summary>
    public static List<int> Ids(Llama4Tokenizer tokenizer, string answer)
    {
        var ids = new List<int>();
        foreach (var part in Regex.Split(answer, @"(<\|[a-z_]+\|>)").Where(p => p.Length > 0))
        {
            ids.AddRange(tokenizer.TryGetSpecialTokenId(part) is { } special ? [special] : tokenizer.Encode(part));
        }

        return ids;
    }
}
