using System.Text.Json;

namespace Llama4Cluster.Core.Guidance;

/// <summary>Compiles a <see cref="GuidanceSpec"/> into a tokenizer-independent <see cref="Grammar"/>.</summary>
public static class GrammarCompiler
{
    /// <summary>Most choices in one choice constraint.</summary>
    public const int MaxChoices = 4096;

    /// <summary>Most characters of a schema or pattern.</summary>
    public const int MaxTextLength = 1 << 20;

    /// <summary>
    /// Checks that <paramref name="spec"/> compiles, and that its automaton starts (a recursive <c>$ref</c> that never
    /// consumes text fails here), without any tokenizer: what the gateway runs to answer 400 before a request is queued.
    /// </summary>
    /// <exception cref="GuidanceException">Malformed or unsupported; the message names the feature.</exception>
    public static void Validate(GuidanceSpec spec)
    {
        var grammar = Compile(spec);
        _ = new GrammarAutomaton(grammar).Start;
    }

    /// <exception cref="GuidanceException">Malformed or unsupported; the message names the feature.</exception>
    internal static Grammar Compile(GuidanceSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        if (spec.Text is null || spec.Choices is null)
        {
            throw new GuidanceException("spec", "a guidance spec needs Text and Choices (empty when unused).");
        }

        if (spec.Text.Length > MaxTextLength)
        {
            throw new GuidanceException("size", $"the {spec.Kind} constraint is {spec.Text.Length:N0} characters long; at most {MaxTextLength:N0} are accepted.");
        }

        var builder = new GrammarBuilder();
        switch (spec.Kind)
        {
            case GuidanceKind.JsonSchema:
                return builder.Build(JsonSchemaCompiler.Compile(builder, ParseSchema(spec.Text)), "JSON schema");
            case GuidanceKind.JsonObject:
                return builder.Build(new JsonSyntax(builder).AnyObject(), "JSON object");
            case GuidanceKind.Regex:
                return builder.Build(new RegexEmitter(builder, jsonString: false).Emit(RegexParser.Parse(spec.Text)), "regex");
            case GuidanceKind.Choice:
                if (spec.Choices.Count == 0 || spec.Choices.Count > MaxChoices)
                {
                    throw new GuidanceException("choice", $"a choice constraint needs 1 to {MaxChoices} choices; got {spec.Choices.Count}.");
                }

                if (spec.Choices.Any(c => c is null || c.Length == 0))
                {
                    throw new GuidanceException("choice", "choices must be non-empty strings.");
                }

                return builder.Build(builder.Alt([.. spec.Choices.Distinct(StringComparer.Ordinal).Select(builder.Literal)]), "choice");
            default:
                throw new GuidanceException("kind", $"unknown guidance kind {spec.Kind}.");
        }
    }

    private static JsonElement ParseSchema(string text)
    {
        try
        {
            using var document = JsonDocument.Parse(text, new JsonDocumentOptions { MaxDepth = 128 });
            return document.RootElement.Clone();
        }
        catch (JsonException e)
        {
            throw new GuidanceException("schema", $"the JSON schema is not valid JSON: {e.Message}");
        }
    }
}
