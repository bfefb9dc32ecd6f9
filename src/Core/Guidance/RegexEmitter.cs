namespace Llama4Cluster.Core.Guidance;

/// <summary>
/// Emits a parsed regex (<see cref="RegexParser"/>) as automaton fragments. Raw mode matches the text itself; JSON mode
/// matches the body of a JSON string whose decoded value the regex matches (a schema's <c>pattern</c>): quote, backslash
/// and control characters are written as their JSON escapes.
/// </summary>
internal sealed class RegexEmitter(GrammarBuilder builder, bool jsonString)
{
    public Fragment Emit(RegexNode node) => node switch
    {
        RegexSet set => Set(set),
        RegexConcat concat => builder.Seq([.. concat.Items.Select(Emit)]),
        RegexAlternation alternation => builder.Alt([.. alternation.Options.Select(Emit)]),
        RegexRepeat repeat => builder.Repeat(() => Emit(repeat.Body), repeat.Min, repeat.Max),
        _ => throw new InvalidOperationException($"unknown regex node {node.GetType().Name}"),
    };

    private Fragment Set(RegexSet set)
    {
        if (!jsonString)
        {
            return Utf8Ranges.Fragment(builder, set.Ranges);
        }

        // Raw: everything but control characters, quote and backslash; those as escapes.
        var raw = RegexSet.Complement([(0, 0x1F), ('"', '"'), ('\\', '\\')]);
        var plain = new List<(int, int)>();
        foreach (var (lo, hi) in set.Ranges)
        {
            foreach (var (rlo, rhi) in raw.Ranges)
            {
                var a = Math.Max(lo, rlo);
                var b = Math.Min(hi, rhi);
                if (a <= b)
                {
                    plain.Add((a, b));
                }
            }
        }

        var options = new List<Fragment>();
        if (plain.Count > 0)
        {
            options.Add(Utf8Ranges.Fragment(builder, plain));
        }

        for (var c = 0; c <= 0x1F; c++)
        {
            if (set.Contains(c))
            {
                options.Add(builder.Literal(Escaped(c)));
            }
        }

        if (set.Contains('"'))
        {
            options.Add(builder.Literal("\\\""));
        }

        if (set.Contains('\\'))
        {
            options.Add(builder.Literal("\\\\"));
        }

        return options.Count == 1 ? options[0] : builder.Alt(options);
    }

    private static string Escaped(int c) => c switch
    {
        '\n' => "\\n",
        '\t' => "\\t",
        '\r' => "\\r",
        '\b' => "\\b",
        '\f' => "\\f",
        _ => $"\\u{c:x4}",
    };
}
