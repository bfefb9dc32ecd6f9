using System.Text.Json;
using Llama4Cluster.Core.Tools;

namespace Llama4Cluster.Core.Tests.Tools;

public sealed class PythonJsonTests
{
    [Fact]
    public void Indented_matches_python_json_dumps_with_indent_4()
    {
        using var document = JsonDocument.Parse("""{"a": [1, {"b": null}], "c": {}, "d": [], "e": "x\"\u00e9\u0001\t"}""");
        // json.dumps(value, indent=4, ensure_ascii=False)
        Assert.Equal(
            "{\n    \"a\": [\n        1,\n        {\n            \"b\": null\n        }\n    ],\n    \"c\": {},\n    \"d\": [],\n    \"e\": \"x\\\"é\\u0001\\t\"\n}",
            PythonJson.Indented(document.RootElement, 4));
    }

    [Fact]
    public void Compact_matches_python_json_dumps_and_pieces_concatenate_to_it()
    {
        using var document = JsonDocument.Parse("""{"a":[1,2.50,{"b":true}],"c":"\u001f/"}""");
        Assert.Equal("{\"a\": [1, 2.50, {\"b\": true}], \"c\": \"\\u001f/\"}", PythonJson.Compact(document.RootElement));
        Assert.Equal(["{\"a\": [1, 2.50, {\"b\": true}]", ", \"c\": \"\\u001f/\"", "}"], PythonJson.ObjectPieces(document.RootElement));
        using var empty = JsonDocument.Parse("{}");
        Assert.Equal(["{}"], PythonJson.ObjectPieces(empty.RootElement));
        using var array = JsonDocument.Parse("[1]");
        Assert.Throws<ArgumentException>(() => PythonJson.ObjectPieces(array.RootElement));
    }
}
