using Llama4Cluster.Core.Tokenization;

namespace Llama4Cluster.Core.Tests.Tokenization;

/// <summary>Images in chat messages: rendered as <c>&lt;|image|&gt;</c> where they sit (HF's template) and encoded as the
/// layout the caller gives for each image, in message order; text around them is encoded on its own.</summary>
public sealed class ChatTemplateImageTests(TinyTokenizerFixture fixture) : IClassFixture<TinyTokenizerFixture>
{
    private Llama4Tokenizer Tokenizer => fixture.Tokenizer;

    [Fact]
    public void Images_render_as_the_image_token_where_they_sit()
    {
        ChatMessage[] messages =
        [
            new("system", "Be brief"),
            new("user", "Compare and") { ImageOffsets = [8, 8, 11] },
        ];
        Assert.Equal(
            "<|begin_of_text|><|header_start|>system<|header_end|>\n\nBe brief<|eot|>" +
            "<|header_start|>user<|header_end|>\n\nCompare <|image|><|image|>and<|image|><|eot|><|header_start|>assistant<|header_end|>\n\n",
            ChatTemplate.Render(messages));
    }

    [Fact]
    public void Each_image_is_encoded_as_its_layout_between_the_text_pieces()
    {
        var t = Tokenizer;
        int[][] layouts = [[7001, 7002], [7003, 7004, 7005]]; // stand-ins: the template copies them as given
        ChatMessage[] messages =
        [
            new("user", "What is") { ImageOffsets = [0] },
            new("assistant", "A cat."),
            new("user", "and this?") { ImageOffsets = [9] },
        ];
        var asked = new List<int>();
        var ids = ChatTemplate.Encode(t, messages, imageTokens: i =>
        {
            asked.Add(i);
            return layouts[i];
        });

        List<int> expected = [t.BeginOfText, t.HeaderStart, .. t.Encode("user"), t.HeaderEnd, .. t.Encode("\n\n"), .. layouts[0], .. t.Encode("What is"), t.EndOfTurn];
        expected.AddRange([t.HeaderStart, .. t.Encode("assistant"), t.HeaderEnd, .. t.Encode("\n\n"), .. t.Encode("A cat."), t.EndOfTurn]);
        expected.AddRange([t.HeaderStart, .. t.Encode("user"), t.HeaderEnd, .. t.Encode("\n\n"), .. t.Encode("and this?"), .. layouts[1], t.EndOfTurn]);
        expected.AddRange([t.HeaderStart, .. t.Encode("assistant"), t.HeaderEnd, .. t.Encode("\n\n")]);
        Assert.Equal(expected, ids);
        Assert.Equal([0, 1], asked);
    }

    [Fact]
    public void Text_split_by_an_image_is_encoded_in_two_pieces()
    {
        var t = Tokenizer;
        var ids = ChatTemplate.Encode(t, [new ChatMessage("user", "abab") { ImageOffsets = [2] }], addGenerationPrompt: false, imageTokens: _ => [9999]);
        List<int> expected = [t.BeginOfText, t.HeaderStart, .. t.Encode("user"), t.HeaderEnd, .. t.Encode("\n\n"), .. t.Encode("ab"), 9999, .. t.Encode("ab"), t.EndOfTurn];
        Assert.Equal(expected, ids);
    }

    [Fact]
    public void Images_outside_user_messages_or_without_layouts_are_refused()
    {
        var inSystem = Assert.Throws<ArgumentException>(() => ChatTemplate.Encode(Tokenizer,
            [new ChatMessage("system", "x") { ImageOffsets = [0] }, new ChatMessage("user", "y")], imageTokens: _ => [1]));
        Assert.Contains("user messages", inSystem.Message);
        var noLayout = Assert.Throws<ArgumentException>(() => ChatTemplate.Encode(Tokenizer, [new ChatMessage("user", "y") { ImageOffsets = [1] }]));
        Assert.Contains("token layouts", noLayout.Message);
        var badOffset = Assert.Throws<ArgumentException>(() => ChatTemplate.Encode(Tokenizer, [new ChatMessage("user", "y") { ImageOffsets = [2] }], imageTokens: _ => [1]));
        Assert.Contains("ascending positions", badOffset.Message);
    }
}
