using Llama4Cluster.Cluster.Hosting;

namespace Llama4Cluster.Cluster.Tests.Hosting;

/// <summary>The one parser of llama4, the silo host and the gateway: the forms it takes and the errors it names.</summary>
public sealed class CommandLineSyntaxTests
{
    private static readonly CommandLineOption[] Options =
    [
        new("model", "DIR", "checkpoint"),
        new("max-tokens", "N", "tokens"),
        new("prompt", "TEXT", "prompt"),
        new("image", "FILE", "an image", Repeatable: true),
        CommandLineOption.Switch("json", "JSON"),
    ];

    [Fact]
    public void ValuesSwitchesAndRepeatedOptionsAreReadInEveryForm()
    {
        var values = CommandLineSyntax.Parse(
            ["--model", "/m", "--max-tokens=8", "--image", "a.png", "--image=b.png", "--json", "--prompt", "@alice -1 --x"], Options);
        Assert.Equal(["/m"], values["model"]);
        Assert.Equal(["8"], values["max-tokens"]);
        Assert.Equal(["a.png", "b.png"], values["image"]);
        Assert.Equal(["true"], values["json"]);
        Assert.Equal(["@alice -1 --x"], values["prompt"]); // '@' is not a response file
        Assert.Equal(["false"], CommandLineSyntax.Parse(["--json=false"], Options)["json"]);
        Assert.Empty(CommandLineSyntax.Parse([], Options));
    }

    [Theory]
    [InlineData(new[] { "--modle", "/m" }, "unknown option --modle", true)]
    [InlineData(new[] { "--model", "/m", "--bogus=1" }, "unknown option --bogus", true)]
    [InlineData(new[] { "/m" }, "unexpected argument '/m': options are --name value", true)]
    [InlineData(new[] { "--model" }, "option --model needs a value", false)]
    [InlineData(new[] { "--model", "/a", "--model=/b" }, "option --model given twice", false)]
    public void MistakesNameTheOption(string[] args, string message, bool unknown)
    {
        var e = Assert.Throws<CommandLineException>(() => CommandLineSyntax.Parse(args, Options));
        Assert.Equal((message, unknown), (e.Message, e.Unknown));
    }

    [Fact]
    public void HelpListsEveryOptionWithItsValueAndLine()
    {
        string help = CommandLineSyntax.Help("tool --model DIR", "Does a thing.", Options);
        var lines = help.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.TrimEnd()).ToArray();
        Assert.Equal("usage: tool --model DIR", lines[0]);
        Assert.Equal("Does a thing.", lines[1]);
        Assert.Equal("options:", lines[2]);
        Assert.Equal(["  --model DIR       checkpoint", "  --max-tokens N    tokens", "  --prompt TEXT     prompt",
            "  --image FILE ...  an image", "  --json            JSON", "  --help            print this help"], lines[3..]);
        Assert.True(CommandLineSyntax.WantsHelp(["--model", "/m", "-h"]));
        Assert.False(CommandLineSyntax.WantsHelp(["--model", "/m"]));
    }
}
