using System.Text;
using System.Text.Json;
using Llama4Cluster.Gateway.Model;
using Llama4Cluster.Core.Tokenization;
using Llama4Cluster.Core.Vision;

namespace Llama4Cluster.Gateway.Api;

/// <summary>Reads a <c>POST /v1/chat/completions</c> body into a <see cref="GenerationPlan"/>.</summary>
internal static class ChatRequestReader
{
    private const string TextOnly = "this server takes text and images";

    /// <param name="body">The request body.</param>
    /// <param name="model">The served model.</param>
    /// <param name="options">The API's settings and limits.</param>
    /// <param name="fetched">The bytes of the request's http(s) image URLs, fetched beforehand (<see cref="ImageUrlFetcher"/>);
    /// null when remote images are not allowed.</param>
    /// <exception cref="ApiException">A 400 or 404 naming the problem.</exception>
    public static GenerationPlan Read(JsonElement body, ServedModel model, ApiOptions options, IReadOnlyDictionary<string, byte[]>? fetched = null)
    {
        var fields = new RequestFields(body);
        ServedModelCheck.Require(fields, model);
        var images = new ImageParts(model, options, fetched);
        var messages = Messages(fields, options.Limits.MaxMessages, images);
        var tools = ToolRequestReader.Read(fields, options.Limits.MaxTools);
        var parameters = GenerationParameters.Read(fields, chat: true, ServedModelCheck.VocabSize(model), options.Limits);
        if (tools.Guidance is not null)
        {
            parameters = parameters.Guidance is null
                ? parameters with { Guidance = tools.Guidance }
                : throw ApiException.BadRequest("tool_choice forces a tool call and response_format (or guided_*) constrains the answer too; send only one.", "tool_choice");
        }
        List<int> prompt;
        try
        {
            prompt = ChatTemplate.Encode(model.Tokenizer, messages, addGenerationPrompt: true, tools.Prompt, images.Layout);
        }
        catch (ArgumentException e)
        {
            throw ApiException.BadRequest(e.Message, "messages");
        }

        return GenerationPlan.Create(
            parameters, [new PlannedPrompt(prompt, Images: images.Count == 0 ? null : images.All)], model.MaxModelLength, defaultMaxTokens: null, "messages", options.Limits.MaxSequences,
            tools.Parsing);
    }

    private static List<ChatMessage> Messages(RequestFields fields, int maxMessages, ImageParts images)
    {
        if (!fields.TryGet("messages", out var array))
        {
            throw ApiException.BadRequest("messages is required: an array of {\"role\", \"content\"} objects.", "messages");
        }

        if (array.ValueKind != JsonValueKind.Array)
        {
            throw ApiException.WrongType("messages", "an array of messages", array.ValueKind);
        }

        if (array.GetArrayLength() == 0)
        {
            throw ApiException.BadRequest("messages must contain at least one message.", "messages");
        }

        if (array.GetArrayLength() > maxMessages)
        {
            throw ApiException.BadRequest(
                $"messages holds {array.GetArrayLength()} messages; at most {maxMessages} are accepted in one request.", "messages");
        }

        var messages = new List<ChatMessage>(array.GetArrayLength());
        var i = 0;
        foreach (var item in array.EnumerateArray())
        {
            messages.Add(Message(item, $"messages[{i}]", images));
            i++;
        }

        return messages;
    }

    private static ChatMessage Message(JsonElement item, string path, ImageParts images)
    {
        if (item.ValueKind != JsonValueKind.Object)
        {
            throw ApiException.WrongType(path, "an object with role and content", item.ValueKind);
        }

        var fields = new RequestFields(item);
        var role = fields.String("role", $"{path}.role")
            ?? throw ApiException.BadRequest($"{path}.role is required: system, user, assistant or tool.", $"{path}.role");
        var canonical = role switch
        {
            // OpenAI's newer name for system instructions; vLLM accepts it too.
            "developer" => ChatTemplate.System,
            ChatTemplate.System or ChatTemplate.User or ChatTemplate.Assistant or ChatTemplate.IPython or "tool" => role,
            _ => throw ApiException.BadRequest(
                $"{path}.role \"{role}\" is not a chat role: use system, developer, user, assistant or tool.", $"{path}.role"),
        };
        var (content, imageOffsets) = Content(fields, canonical, path, images);
        return new ChatMessage(canonical, content)
        {
            ToolCalls = ToolRequestReader.MessageToolCalls(fields, canonical, path),
            ImageOffsets = imageOffsets,
        };
    }

    private static (string Text, IReadOnlyList<int> ImageOffsets) Content(RequestFields fields, string role, string path, ImageParts images)
    {
        var param = $"{path}.content";
        if (!fields.TryGet("content", out var content))
        {
            // An assistant turn that only called tools has no content.
            return role == ChatTemplate.Assistant
                ? (string.Empty, [])
                : throw ApiException.BadRequest($"{param} is required for a {role} message.", param);
        }

        if (content.ValueKind == JsonValueKind.String)
        {
            return (RequestFields.Text(content, param), []);
        }

        if (content.ValueKind != JsonValueKind.Array)
        {
            throw ApiException.WrongType(param, "a string or an array of content parts", content.ValueKind);
        }

        // Text parts are joined with newlines, as vLLM renders a multi-part message for a text-only template; a message with
        // images follows Llama 4's own template instead, which writes the parts one after the other (an image as <|image|>).
        bool hasImages = content.EnumerateArray().Any(p => p.ValueKind == JsonValueKind.Object && p.TryGetProperty("type", out var t)
            && t.ValueKind == JsonValueKind.String && t.GetString() is "image_url" or "image");
        var text = new StringBuilder();
        var offsets = new List<int>();
        var j = 0;
        foreach (var part in content.EnumerateArray())
        {
            var partPath = $"{param}[{j}]";
            if (part.ValueKind != JsonValueKind.Object)
            {
                throw ApiException.WrongType(partPath, "an object such as {\"type\": \"text\", \"text\": \"...\"}", part.ValueKind);
            }

            var partFields = new RequestFields(part);
            var type = partFields.String("type", $"{partPath}.type")
                ?? throw ApiException.BadRequest($"{partPath}.type is required (\"text\" or \"image_url\").", $"{partPath}.type");
            switch (type)
            {
                case "text":
                    var piece = partFields.String("text", $"{partPath}.text")
                        ?? throw ApiException.BadRequest($"{partPath}.text is required for a text part.", $"{partPath}.text");
                    if (j > 0 && !hasImages)
                    {
                        text.Append('\n');
                    }

                    text.Append(piece);
                    break;
                case "image_url" or "image":
                    if (role != ChatTemplate.User)
                        throw ApiException.BadRequest($"{partPath}: images go in user messages, not in a {role} message.", partPath);
                    images.Add(partFields, partPath);
                    offsets.Add(text.Length);
                    break;
                case "input_image" or "image_embeds" or "image_pil":
                    throw ApiException.BadRequest($"{partPath}.type \"{type}\" is not supported: send images as \"image_url\" parts (a data: URL).", $"{partPath}.type");
                case "input_audio" or "audio_url" or "audio" or "audio_embeds":
                    throw ApiException.BadRequest($"audio input is not supported: {TextOnly} ({partPath}).", partPath);
                case "video_url" or "video":
                    throw ApiException.BadRequest($"video input is not supported: {TextOnly} ({partPath}).", partPath);
                case "file" or "input_file":
                    throw ApiException.BadRequest($"file input is not supported: {TextOnly} ({partPath}).", partPath);
                default:
                    throw ApiException.BadRequest($"{partPath}.type \"{type}\" is not a content part type; use \"text\" or \"image_url\".", $"{partPath}.type");
            }

            j++;
        }

        return (text.ToString(), offsets);
    }
}
