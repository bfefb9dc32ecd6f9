namespace Llama4Cluster.Core.Guidance;

/// <summary>
/// A structured-output constraint on one sequence, as requests carry it (tokenizer-independent; compiled on the rank that
/// samples). Build with <see cref="JsonSchema"/>, <see cref="JsonObject"/>, <see cref="Regex"/> or <see cref="Choice"/>.
/// </summary>
/// <param name="Kind">What the output must be.</param>
/// <param name="Text">The JSON schema text (<see cref="GuidanceKind.JsonSchema"/>) or the pattern
/// (<see cref="GuidanceKind.Regex"/>); empty otherwise.</param>
/// <param name="Choices">The allowed outputs (<see cref="GuidanceKind.Choice"/>); empty otherwise.</param>
public sealed record GuidanceSpec(GuidanceKind Kind, string Text, IReadOnlyList<string> Choices)
{
    /// <summary>Output: one JSON value valid against <paramref name="schemaJson"/> (a JSON schema as text). Tool calls use
    /// this too: a schema for <c>{"name": ..., "parameters": ...}</c>, an <c>anyOf</c> over the tools.</summary>
    public static GuidanceSpec JsonSchema(string schemaJson) => new(GuidanceKind.JsonSchema, schemaJson, []);

    /// <summary>Output: any JSON object.</summary>
    public static GuidanceSpec JsonObject() => new(GuidanceKind.JsonObject, "", []);

    /// <summary>Output: text that <paramref name="pattern"/> matches from start to end.</summary>
    public static GuidanceSpec Regex(string pattern) => new(GuidanceKind.Regex, pattern, []);

    /// <summary>Output: exactly one of <paramref name="choices"/>.</summary>
    public static GuidanceSpec Choice(IReadOnlyList<string> choices) => new(GuidanceKind.Choice, "", choices);

    /// <summary>Identifies the compiled grammar: equal specs share one (records compare lists by reference).</summary>
    public string CacheKey =>
        Kind == GuidanceKind.Choice
            ? "choice\u0000" + string.Join('\u0000', Choices.Select(c => c.Length + ":" + c))
            : Kind + "\u0000" + Text;

    public bool Equals(GuidanceSpec? other) => other is not null && CacheKey == other.CacheKey;

    public override int GetHashCode() => CacheKey.GetHashCode(StringComparison.Ordinal);
}
