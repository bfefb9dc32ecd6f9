using System.Text;
using Llama4Cluster.Core.Tools;

namespace Llama4Cluster.Core.Tests.Tools;

public sealed class ToolCallStreamTests
{
    private static readonly string[] Names = ["get_weather", "add", "f"];

    private static readonly string[] Answers =
    [
        "Hello world! Nothing to call here.",
        "[get_weather(city=\"Paris\"), add(a=1, b=[1, {'k': \"v\"}])]",
        "Let me check. [get_weather(city='Paris')] Done.",
        "{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Paris\"}}; {\"name\": \"add\", \"arguments\": \"{\\\"a\\\": 1}\"}",
        "<|python_start|>[f(x=\"\"\"a\"b\"\"\")]<|python_end|>\ntrailing<|eot|>",
        "Broken [get_weather(city=\"Paris\" and {\"name\": \"add\"} and [1, 2] < 3",
        "  \n{\"name\": \"add\", \"parameters\": {\"a\": 1.5e3}}  \n",
        "[f(s='\\u00e9\\\\', t=r\"\\n\")] [f()]; {\"name\": \"f\", \"parameters\": {}};x",
    ];

    public static TheoryData<int> AnswerIndices => [.. Enumerable.Range(0, Answers.Length)];

    [Theory]
    [MemberData(nameof(AnswerIndices))]
    public void Streaming_in_any_pieces_agrees_with_the_whole_answer(int index)
    {
        var text = Answers[index];
        var whole = ToolCallParser.Parse(text, Names);
        var random = new Random(index);
        foreach (var pieces in new IReadOnlyList<string>[] { Chars(text), RandomPieces(text, random), RandomPieces(text, random), [text] })
        {
            var (content, calls) = Stream(pieces);
            Assert.Equal(whole.Content ?? "", content);
            Assert.Equal(whole.Calls.Select(c => (c.Name, c.ArgumentsJson)), calls.Select(c => (c.Name, c.ArgumentsJson)));
        }
    }

    [Fact]
    public void Content_before_a_call_is_released_before_the_call_completes()
    {
        var stream = new ToolCallStream(Names);
        Assert.Equal("Sure.", stream.Add("Sure. ").Content);
        var opening = stream.Add("[get_weather(city=");
        Assert.Equal("", opening.Content);
        Assert.Empty(opening.Calls);
        var closing = stream.Add("\"Paris\")]");
        Assert.Equal("", closing.Content);
        var call = Assert.Single(closing.Calls);
        Assert.Equal("get_weather", call.Name);
        Assert.Equal(["{\"city\": \"Paris\"", "}"], call.ArgumentPieces);
        Assert.Equal(" Bye", stream.Add(" Bye").Content);
        Assert.Equal(1, stream.CallCount);
        var end = stream.Finish();
        Assert.Equal("", end.Content);
        Assert.Empty(end.Calls);
    }

    [Fact]
    public void Prose_with_a_bracket_is_released_as_soon_as_it_cannot_be_a_call()
    {
        var stream = new ToolCallStream(Names);
        Assert.Equal("See", stream.Add("See [").Content);
        Assert.Equal(" [1", stream.Add("1").Content);
        Assert.Equal("], {x", stream.Add("], {x").Content);
        Assert.Equal("", stream.Add(" ").Content);
        Assert.Equal(" ok", stream.Add("ok").Content);
        Assert.Equal("", stream.Add("\n").Content);
        Assert.Equal("\n", stream.Finish().Content);
    }

    [Fact]
    public void A_json_call_waits_for_what_follows_it_and_a_cut_off_call_becomes_content()
    {
        var stream = new ToolCallStream(Names);
        Assert.Empty(stream.Add("{\"name\": \"f\", \"parameters\": {}}").Calls);
        var end = stream.Finish();
        Assert.Equal("f", Assert.Single(end.Calls).Name);

        var cut = new ToolCallStream(Names);
        Assert.Equal("", cut.Add("[get_weather(city=\"Par").Content);
        var rest = cut.Finish();
        Assert.Empty(rest.Calls);
        Assert.Equal("[get_weather(city=\"Par", rest.Content);
    }

    [Fact]
    public void Random_text_never_throws_and_streams_like_the_whole()
    {
        const string Alphabet = "[]{}()<>|\"'\\,;:=._ abcfgx0123456789\nTrueNone";
        string[] tokens = ["<|python_start|>", "<|python_end|>", "<|eot|>", "get_weather(", "f(", "{\"name\": \"f\", \"parameters\": ", "x="];
        var random = new Random(12);
        for (var i = 0; i < 400; i++)
        {
            var text = new StringBuilder();
            var length = random.Next(1, 60);
            for (var j = 0; j < length; j++)
            {
                text.Append(random.Next(8) == 0 ? tokens[random.Next(tokens.Length)] : Alphabet[random.Next(Alphabet.Length)].ToString());
            }

            var answer = text.ToString();
            var whole = ToolCallParser.Parse(answer, Names);
            var (content, calls) = Stream(RandomPieces(answer, random));
            Assert.Equal(whole.Content ?? "", content);
            Assert.Equal(whole.Calls.Select(c => c.ArgumentsJson), calls.Select(c => c.ArgumentsJson));
            Assert.DoesNotContain("<|eot|>", content, StringComparison.Ordinal);
        }
    }

    private static (string Content, List<ParsedToolCall> Calls) Stream(IEnumerable<string> pieces)
    {
        var stream = new ToolCallStream(Names);
        var content = new StringBuilder();
        var calls = new List<ParsedToolCall>();
        foreach (var piece in pieces)
        {
            var output = stream.Add(piece);
            content.Append(output.Content);
            calls.AddRange(output.Calls);
        }

        var last = stream.Finish();
        content.Append(last.Content);
        calls.AddRange(last.Calls);
        return (content.ToString(), calls);
    }

    private static string[] Chars(string text) => text.Select(c => c.ToString()).ToArray();

    private static List<string> RandomPieces(string text, Random random)
    {
        var pieces = new List<string>();
        for (var i = 0; i < text.Length;)
        {
            var length = Math.Min(text.Length - i, random.Next(1, 6));
            pieces.Add(text.Substring(i, length));
            i += length;
        }

        return pieces;
    }
}
