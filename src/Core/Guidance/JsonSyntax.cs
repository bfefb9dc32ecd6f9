using System.Text.Encodings.Web;
using System.Text.Json;

namespace Llama4Cluster.Core.Guidance;

/// <summary>
/// JSON's pieces as automaton fragments: bounded whitespace, literals, strings, numbers, and the any-value rules (object,
/// array, value) that <c>json_object</c> and an empty schema use. One instance per compiled constraint; the any-value
/// rules are built once, on first use.
/// </summary>
internal sealed class JsonSyntax(GrammarBuilder builder)
{
    /// <summary>Most spaces after a newline between tokens: room for pretty-printing a few levels deep, and a bound, so a
    /// bounded schema always finishes.</summary>
    public const int MaxIndent = 8;

    private static readonly JsonWriterOptions Compact = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping, Indented = false };

    private Fragment? _anyValue;
    private Fragment? _anyObject;

    public GrammarBuilder Builder => builder;

    /// <summary>Nothing, one space, or a newline followed by up to <see cref="MaxIndent"/> spaces.</summary>
    public Fragment Whitespace() =>
        builder.Alt([builder.Empty(), builder.Literal(" "), builder.Seq(builder.Literal("\n"), builder.Repeat(() => builder.Literal(" "), 0, MaxIndent))]);

    /// <summary><paramref name="text"/> with whitespace on both sides: <c>ws text ws</c>.</summary>
    public Fragment Punctuation(string text) => builder.Seq(Whitespace(), builder.Literal(text), Whitespace());

    /// <summary>A JSON value written compactly (const and enum values).</summary>
    public Fragment Value(JsonElement value) => builder.Literal(Serialize(value));

    /// <summary>A property name as it appears in an object, quotes included.</summary>
    public Fragment Key(string name)
    {
        using var stream = new MemoryStream();
        using (var writer = new Utf8JsonWriter(stream, Compact))
        {
            writer.WriteStringValue(name);
        }

        return builder.Literal(stream.ToArray());
    }

    public Fragment String(int minLength = 0, int? maxLength = null) => builder.Terminal(new JsonStringTerminal(minLength, maxLength));

    public Fragment Number(NumberBounds bounds) => builder.Terminal(new NumberTerminal(bounds));

    public Fragment Boolean() => builder.Alt([builder.Literal("true"), builder.Literal("false")]);

    public Fragment Null() => builder.Literal("null");

    /// <summary>Any JSON value (a call of the shared rule).</summary>
    public Fragment AnyValue()
    {
        EnsureAnyRules();
        return builder.Call(_anyValue!.Value);
    }

    /// <summary>Any JSON object (a call of the shared rule).</summary>
    public Fragment AnyObject()
    {
        EnsureAnyRules();
        return builder.Call(_anyObject!.Value);
    }

    /// <summary><c>{ "key": value, … }</c> with any keys and values from <paramref name="value"/> (a fresh fragment per
    /// call; <paramref name="value"/> is called twice).</summary>
    public Fragment Map(Func<Fragment> value)
    {
        Fragment Member() => builder.Seq(String(), Punctuation(":"), value());
        var members = builder.Seq(Member(), builder.Star(builder.Seq(Punctuation(","), Member())));
        return builder.Seq(builder.Literal("{"), Whitespace(), builder.Optional(members), Whitespace(), builder.Literal("}"));
    }

    /// <summary><c>[ item, … ]</c> with <paramref name="min"/> to <paramref name="max"/> items.</summary>
    public Fragment Array(Func<Fragment> item, int min, int? max)
    {
        Fragment Items(int lo, int? hi) => builder.Seq(item(), builder.Repeat(() => builder.Seq(Punctuation(","), item()), Math.Max(0, lo - 1), hi - 1));
        var body = min > 0 ? Items(min, max) : max == 0 ? builder.Empty() : builder.Optional(Items(1, max));
        return builder.Seq(builder.Literal("["), Whitespace(), body, Whitespace(), builder.Literal("]"));
    }

    private void EnsureAnyRules()
    {
        if (_anyValue is not null)
        {
            return;
        }

        var value = builder.NewRule();
        var obj = builder.NewRule();
        var arr = builder.NewRule();
        _anyValue = value;
        _anyObject = obj;
        builder.Define(obj, Map(() => builder.Call(value)));
        builder.Define(arr, Array(() => builder.Call(value), 0, null));
        builder.Define(value, builder.Alt(
        [
            builder.Call(obj), builder.Call(arr), String(), Number(new NumberBounds()), Boolean(), Null(),
        ]));
    }

    private static byte[] Serialize(JsonElement value)
    {
        using var stream = new MemoryStream();
        using (var writer = new Utf8JsonWriter(stream, Compact))
        {
            value.WriteTo(writer);
        }

        return stream.ToArray();
    }
}
