using System.Text;
using Llama4Cluster.Core.Tools;

namespace Llama4Cluster.Core.Tokenization;

/// <summary>
/// The Llama 4 chat format (spec §4.2; docs/MODEL.md "Chat format" and "Tool calls"), built piecewise: special tokens as
/// their ids, everything between two special tokens encoded as one plain text (so special-token strings typed in content
/// stay text, META's behaviour, and the ids equal HF's rendering + tokenisation). Follows the template HF ships with the
/// checkpoint: <c>&lt;|begin_of_text|&gt;</c>; a first system message, trimmed, as its own turn; with tools, the system
/// turn starts with "Environment: ipython" and the function list goes into the first user turn (or the system turn);
/// each other message as <c>&lt;|header_start|&gt;</c> role <c>&lt;|header_end|&gt;</c> "\n\n" content
/// <c>&lt;|eot|&gt;</c>; an assistant turn with calls as <c>&lt;|python_start|&gt;</c> content
/// <c>&lt;|python_end|&gt;</c> and the calls as JSON; a tool result under <c>ipython</c> as a JSON string; for
/// generation, the bare assistant header.
/// </summary>
public static class ChatTemplate
{
    public const string System = "system";
    public const string User = "user";
    public const string Assistant = "assistant";
    public const string IPython = "ipython";

    private const string HeaderSeparator = "\n\n";

    // A piece standing for one image of a message (ChatMessage.ImageOffsets): rendered as <|image|>, encoded as the layout.
    private const string ImagePiece = "\0image";

    /// <summary>The prompt ids. For ordinary content these equal HF's rendering + tokenisation of the template.</summary>
    /// <param name="tokenizer">The tokenizer.</param>
    /// <param name="messages">The conversation.</param>
    /// <param name="addGenerationPrompt">End with the bare assistant header.</param>
    /// <param name="tools">Tools the model may call, or null.</param>
    /// <param name="imageTokens">The token layout of image i of the prompt (spec §5.4); needed when a message has images.</param>
    /// <exception cref="ArgumentException">An unknown role, tools without a first message to list them in, or images outside a
    /// user message or without <paramref name="imageTokens"/>.</exception>
    public static List<int> Encode(
        Llama4Tokenizer tokenizer, IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt = true, ChatTools? tools = null,
        Func<int, IReadOnlyList<int>>? imageTokens = null)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        var ids = new List<int>();
        var text = new StringBuilder();
        int images = 0;
        foreach (var (special, plain) in Pieces(messages, addGenerationPrompt, tools))
        {
            if (special is null)
            {
                text.Append(plain);
                continue;
            }

            if (text.Length > 0)
            {
                ids.AddRange(tokenizer.Encode(text.ToString()));
                text.Clear();
            }

            if (ReferenceEquals(special, ImagePiece))
            {
                ids.AddRange((imageTokens ?? throw new ArgumentException("the messages have images: give their token layouts", nameof(imageTokens)))(images++));
                continue;
            }

            ids.Add(tokenizer.TryGetSpecialTokenId(special)
                ?? throw new ArgumentException($"The tokenizer has no {special} token.", nameof(tokenizer)));
        }

        if (text.Length > 0)
        {
            ids.AddRange(tokenizer.Encode(text.ToString()));
        }

        return ids;
    }

    /// <summary>The same prompt as text, with special tokens written out.</summary>
    public static string Render(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt = true, ChatTools? tools = null) =>
        string.Concat(Pieces(messages, addGenerationPrompt, tools).Select(p => ReferenceEquals(p.Special, ImagePiece) ? Llama4SpecialTokens.Image : p.Special ?? p.Text));

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

    /// <summary>The prompt as special tokens (<c>Special</c> set) and plain text (<c>Text</c>), in order.</summary>
    private static List<(string? Special, string Text)> Pieces(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt, ChatTools? tools)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var pieces = new List<(string? Special, string Text)> { (Llama4SpecialTokens.BeginOfText, "") };
        var rest = messages.ToList();
        foreach (var m in rest)
        {
            if (NormalizeRole(m) != User && m.ImageOffsets.Count > 0)
                throw new ArgumentException($"images go in user messages; a {m.Role} message has {m.ImageOffsets.Count}", nameof(messages));
            for (int i = 0; i < m.ImageOffsets.Count; i++)
            {
                if (m.ImageOffsets[i] < 0 || m.ImageOffsets[i] > m.Content.Length || (i > 0 && m.ImageOffsets[i] < m.ImageOffsets[i - 1]))
                    throw new ArgumentException("a message's image offsets must be ascending positions within its content", nameof(messages));
            }
        }

        var hasTools = tools is not null;
        string? system = null;
        if (rest.Count > 0 && rest[0].Role == System)
        {
            system = PythonStrip(rest[0].Content);
            rest.RemoveAt(0);
        }

        // HF writes no system turn at all when tools go into it and the client sent no system message, which would
        // lose the functions: this template writes one then (docs/MODEL.md).
        if (system is not null || (hasTools && !tools!.InUserMessage))
        {
            var body = new StringBuilder();
            if (hasTools)
            {
                body.Append(ToolPrompt.Environment);
                if (!tools!.InUserMessage)
                {
                    body.Append(ToolPrompt.FunctionList(ToolPrompt.SystemInstructions, tools.Tools));
                }
            }

            AddTurn(pieces, System, body.Append(system).ToString());
        }

        if (hasTools && tools!.InUserMessage)
        {
            if (rest.Count == 0 || NormalizeRole(rest[0]) == IPython || rest[0].ToolCalls.Count > 0)
            {
                throw new ArgumentException(
                    "With tools, the template lists the functions in the first message after the system message, which must be a user message.",
                    nameof(messages));
            }

            var first = rest[0];
            string functions = ToolPrompt.FunctionList(ToolPrompt.UserInstructions, tools.Tools);
            if (first.ImageOffsets.Count == 0)
            {
                AddTurn(pieces, User, functions + PythonStrip(first.Content));
            }
            else
            {
                // The strip would move the images' offsets: a message with images keeps its content as sent.
                AddHeader(pieces, User);
                pieces.Add((null, functions));
                AddContent(pieces, first);
                pieces.Add((Llama4SpecialTokens.EndOfTurn, ""));
            }

            rest.RemoveAt(0);
        }

        foreach (var message in rest)
        {
            AddMessage(pieces, message);
        }

        if (addGenerationPrompt)
        {
            AddHeader(pieces, Assistant);
        }

        return pieces;
    }

    private static void AddMessage(List<(string? Special, string Text)> pieces, ChatMessage message)
    {
        var role = NormalizeRole(message);
        if (role == IPython)
        {
            // HF's template tests `content is iterable`, which a string is: a result is written as a JSON string.
            AddTurn(pieces, IPython, PythonJson.String(message.Content));
        }
        else if (message.ToolCalls.Count > 0)
        {
            AddHeader(pieces, Assistant);
            pieces.Add((Llama4SpecialTokens.PythonStart, ""));
            pieces.Add((null, message.Content));
            pieces.Add((Llama4SpecialTokens.PythonEnd, ""));
            pieces.Add((null, string.Concat(message.ToolCalls.Select(ToolPrompt.CallText))));
            pieces.Add((Llama4SpecialTokens.EndOfTurn, ""));
        }
        else if (message.ImageOffsets.Count > 0)
        {
            AddHeader(pieces, role);
            AddContent(pieces, message);
            pieces.Add((Llama4SpecialTokens.EndOfTurn, ""));
        }
        else
        {
            AddTurn(pieces, role, message.Content);
        }
    }

    /// <summary>A message's content with its images in place.</summary>
    private static void AddContent(List<(string? Special, string Text)> pieces, ChatMessage message)
    {
        int at = 0;
        foreach (int offset in message.ImageOffsets)
        {
            if (offset > at) pieces.Add((null, message.Content[at..offset]));
            pieces.Add((ImagePiece, ""));
            at = offset;
        }

        if (at < message.Content.Length) pieces.Add((null, message.Content[at..]));
    }

    private static void AddTurn(List<(string? Special, string Text)> pieces, string role, string content)
    {
        ArgumentNullException.ThrowIfNull(content);
        AddHeader(pieces, role);
        pieces.Add((null, content));
        pieces.Add((Llama4SpecialTokens.EndOfTurn, ""));
    }

    private static void AddHeader(List<(string? Special, string Text)> pieces, string role)
    {
        pieces.Add((Llama4SpecialTokens.HeaderStart, ""));
        pieces.Add((null, role));
        pieces.Add((Llama4SpecialTokens.HeaderEnd, ""));
        pieces.Add((null, HeaderSeparator));
    }

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
