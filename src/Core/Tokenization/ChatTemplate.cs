using System.Text;

namespace Llama4Cluster.Core.Tokenization;

/// <summary>
/// The Llama 4 chat format (spec §4.2), built piecewise as ids: <c>&lt;|begin_of_text|&gt;</c> once, then per message
/// <c>&lt;|header_start|&gt;</c> role <c>&lt;|header_end|&gt;</c> "\n\n" content <c>&lt;|eot|&gt;</c>, and for generation
/// the bare assistant header. Role names, "\n\n" and content are encoded as plain text, so special-token strings
/// typed in content stay text (META's behaviour); the system message is trimmed as by the HF template's <c>|trim</c>.
/// </summary>
public static class ChatTemplate
{
    public const string System = "system";
    public const string User = "user";
    public const string Assistant = "assistant";
    public const string IPython = "ipython";

    private const string HeaderSeparator = "\n\n";

    /// <summary>The prompt ids. For ordinary content these equal HF's rendering + tokenisation of the template.</summary>
    public static List<int> Encode(Llama4Tokenizer tokenizer, IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt = true)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        ArgumentNullException.ThrowIfNull(messages);
        var ids = new List<int> { tokenizer.BeginOfText };
        foreach (var message in messages)
        {
            var role = NormalizeRole(message);
            AppendHeader(tokenizer, ids, role);
            ids.AddRange(tokenizer.Encode(ContentOf(role, message)));
            ids.Add(tokenizer.EndOfTurn);
        }

        if (addGenerationPrompt)
        {
            AppendHeader(tokenizer, ids, Assistant);
        }

        return ids;
    }

    /// <summary>The same prompt as text, with special tokens written out.</summary>
    public static string Render(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt = true)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var text = new StringBuilder(Llama4SpecialTokens.BeginOfText);
        foreach (var message in messages)
        {
            var role = NormalizeRole(message);
            AppendHeader(text, role);
            text.Append(ContentOf(role, message)).Append(Llama4SpecialTokens.EndOfTurn);
        }

        if (addGenerationPrompt)
        {
            AppendHeader(text, Assistant);
        }

        return text.ToString();
    }

    /// <summary>The canonical role: system, user, assistant or ipython ("tool" maps to ipython).</summary>
    /// <exception cref="ArgumentException">Any other role.</exception>
    public static string NormalizeRole(ChatMessage message)
    {
        ArgumentNullException.ThrowIfNull(message);
        return message.Role switch
        {
            System or User or Assistant or IPython => message.Role,
            "tool" => IPython,
            _ => throw new ArgumentException(
                $"Unknown chat role \"{message.Role}\"; use system, user, assistant, ipython or tool.", nameof(message)),
        };
    }

    private static string ContentOf(string role, ChatMessage message)
    {
        ArgumentNullException.ThrowIfNull(message.Content);
        return role == System ? PythonStrip(message.Content) : message.Content;
    }

    private static void AppendHeader(Llama4Tokenizer tokenizer, List<int> ids, string role)
    {
        ids.Add(tokenizer.HeaderStart);
        ids.AddRange(tokenizer.Encode(role));
        ids.Add(tokenizer.HeaderEnd);
        ids.AddRange(tokenizer.Encode(HeaderSeparator));
    }

    private static void AppendHeader(StringBuilder text, string role) =>
        text.Append(Llama4SpecialTokens.HeaderStart).Append(role).Append(Llama4SpecialTokens.HeaderEnd).Append(HeaderSeparator);

    // Jinja's trim is Python str.strip(): Unicode whitespace plus U+001C … U+001F.
    private static string PythonStrip(string s)
    {
        var start = 0;
        var end = s.Length;
        while (start < end && IsPythonSpace(s[start]))
        {
            start++;
        }

        while (end > start && IsPythonSpace(s[end - 1]))
        {
            end--;
        }

        return s[start..end];
    }

    private static bool IsPythonSpace(char c) => char.IsWhiteSpace(c) || (c >= '\u001C' && c <= '\u001F');
}
