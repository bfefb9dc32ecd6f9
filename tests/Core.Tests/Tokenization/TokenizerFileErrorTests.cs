using Llama4Cluster.Core.Tokenization;

namespace Llama4Cluster.Core.Tests.Tokenization;

public sealed class TokenizerFileErrorTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "l4c-tokerr-" + Guid.NewGuid().ToString("N"));

    public TokenizerFileErrorTests() => Directory.CreateDirectory(_dir);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Missing_tokenizer_names_the_expected_files()
    {
        Assert.False(Llama4Tokenizer.ExistsIn(_dir));
        var e = Assert.Throws<TokenizerFormatException>(() => Llama4Tokenizer.Load(_dir));
        Assert.Contains("tokenizer.model", e.Message, StringComparison.Ordinal);
        Assert.Contains("tokenizer.json", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("QQ== 0\nQg== 1\nnot-base64! 2\n", 3, "base64")]
    [InlineData("QQ== 0\nQg==\n", 2, "expected")]
    [InlineData("QQ== 0\nQg== x1\n", 2, "rank")]
    [InlineData("QQ== 0\nQg== 0\n", 2, "rank 0 appears twice")]
    [InlineData("QQ== 0\nQQ== 1\n", 2, "appears twice")]
    public void Malformed_tokenizer_model_names_file_and_line(string content, int line, string detail)
    {
        var path = Path.Combine(_dir, "tokenizer.model");
        File.WriteAllText(path, content);
        var e = Assert.Throws<TokenizerFormatException>(() => Llama4Tokenizer.Load(_dir));
        Assert.Equal(path, e.FilePath);
        Assert.Contains(path, e.Message, StringComparison.Ordinal);
        Assert.Contains($"line {line}:", e.Message, StringComparison.Ordinal);
        Assert.Contains(detail, e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}", "invalid JSON")]
    [InlineData("{\"added_tokens\": []}", "\"model\" is missing")]
    [InlineData("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": \"zero\"}}}", "model.vocab")]
    [InlineData("{\"model\": {\"type\": \"Unigram\", \"vocab\": {}}}", "model.type")]
    [InlineData("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 1}, \"merges\": [[\"a\", \"b\"]]}}", "model.merges[0]")]
    [InlineData("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}}, \"added_tokens\": [{\"content\": \"<|eot|>\"}]}", "added_tokens[0].id")]
    public void Malformed_tokenizer_json_names_file_and_field(string content, string detail)
    {
        var path = Path.Combine(_dir, "tokenizer.json");
        File.WriteAllText(path, content);
        var e = Assert.Throws<TokenizerFormatException>(() => Llama4Tokenizer.Load(_dir));
        Assert.Equal(path, e.FilePath);
        Assert.Contains(detail, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Missing_required_special_token_is_reported()
    {
        // A valid vocabulary whose added tokens lack <|eot|> and the other chat-format tokens.
        File.WriteAllText(
            Path.Combine(_dir, "tokenizer.json"),
            "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}}, \"added_tokens\": [{\"id\": 1, \"content\": \"<|begin_of_text|>\"}]}");
        var e = Assert.Throws<TokenizerFormatException>(() => Llama4Tokenizer.Load(_dir));
        Assert.Contains("<|end_of_text|>", e.Message, StringComparison.Ordinal);
        Assert.Contains("tokenizer.json", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Malformed_tokenizer_config_names_file_and_field()
    {
        TinyTokenizerWriter.Write(_dir, 300);
        var path = Path.Combine(_dir, "tokenizer_config.json");
        File.WriteAllText(path, "{\"added_tokens_decoder\": {\"abc\": {\"content\": \"<|x|>\"}}}");
        var e = Assert.Throws<TokenizerFormatException>(() => Llama4Tokenizer.Load(_dir));
        Assert.Equal(path, e.FilePath);
        Assert.Contains("added_tokens_decoder.abc", e.Message, StringComparison.Ordinal);
    }
}
