using System.Text;
using Llama4Cluster.Core.Guidance;

namespace Llama4Cluster.Core.Tests.Guidance;

/// <summary>Runs constraints over text and over small vocabularies for the guidance tests.</summary>
internal static class GuidanceKit
{
    /// <summary>True when the constraint accepts <paramref name="text"/> whole.</summary>
    public static bool Matches(GuidanceSpec spec, string text) => Run(spec, text) is { } s && s.Automaton.IsAccepting(s.State);

    /// <summary>True when <paramref name="text"/> can still be continued into a match (or is one).</summary>
    public static bool IsPrefix(GuidanceSpec spec, string text) => Run(spec, text) is not null;

    public static bool MatchesSchema(string schema, string text) => Matches(GuidanceSpec.JsonSchema(schema), text);

    private static (GrammarAutomaton Automaton, int State)? Run(GuidanceSpec spec, string text)
    {
        var automaton = new GrammarAutomaton(GrammarCompiler.Compile(spec));
        var state = automaton.Start;
        foreach (var b in Encoding.UTF8.GetBytes(text))
        {
            state = automaton.Next(state, b);
            if (state < 0)
            {
                return null;
            }
        }

        return (automaton, state);
    }

    /// <summary>A vocabulary of the given token strings (id = index) plus the 256 single bytes after them.</summary>
    public static TokenTrie Vocabulary(params string[] tokens)
    {
        var bytes = tokens.Select(t => Encoding.UTF8.GetBytes(t)).Concat(Enumerable.Range(0, 256).Select(b => new[] { (byte)b })).ToArray();
        return TokenTrie.Build(bytes!);
    }

    /// <summary>The mask by brute force: each token's bytes run from the state one at a time.</summary>
    public static ulong[] BruteForceMask(GuidedGrammar grammar, int state)
    {
        var trie = grammar.Vocabulary;
        var mask = new ulong[trie.MaskWords];
        if (grammar.IsComplete(state))
        {
            return mask;
        }

        for (var id = 0; id < trie.VocabularySize; id++)
        {
            if (grammar.Advance(state, id) >= 0)
            {
                mask[id >> 6] |= 1UL << id;
            }
        }

        return mask;
    }

    public static List<int> Ids(ReadOnlySpan<ulong> mask)
    {
        var ids = new List<int>();
        for (var w = 0; w < mask.Length; w++)
        {
            for (var bits = mask[w]; bits != 0; bits &= bits - 1)
            {
                ids.Add((w << 6) + System.Numerics.BitOperations.TrailingZeroCount(bits));
            }
        }

        return ids;
    }

    /// <summary>
    /// Generates by choosing uniformly among the allowed tokens, ending (as a stop token would) with probability
    /// <paramref name="stopChance"/> whenever the output may end, and always when it must. Returns the text and whether it
    /// ended within <paramref name="maxTokens"/>.
    /// </summary>
    public static (string Text, bool Ended, int Tokens) RandomOutput(GuidedGrammar grammar, Random random, int maxTokens, double stopChance = 0.5)
    {
        var matcher = new GuidanceMatcher(grammar);
        var bytes = new List<byte>();
        for (var n = 0; n < maxTokens; n++)
        {
            if (matcher.IsComplete || (matcher.CanStop && random.NextDouble() < stopChance))
            {
                return (Encoding.UTF8.GetString(bytes.ToArray()), true, n);
            }

            var allowed = Ids(matcher.AllowedTokens());
            Assert.NotEmpty(allowed);
            var token = allowed[random.Next(allowed.Count)];
            matcher.Advance(token);
            bytes.AddRange(grammar.Vocabulary.TokenBytes(token)!);
        }

        return (Encoding.UTF8.GetString(bytes.ToArray()), matcher.IsComplete, maxTokens);
    }
}
