using System.Net;
using System.Text.Json;

namespace Llama4Cluster.Gateway.Tests.Api;

[Collection(ApiCollection.Name)]
public sealed class CompletionsTests(ApiServerFixture server) : ApiTestBase(server)
{
    [Fact]
    public async Task TokenIdPrompt_IsSubmittedAsGiven_WithExactUsage()
    {
        var marker = NewMarker("ids");
        var prompt = Server.Encode($"{marker} The quick brown fox");
        Scheduler.On(marker, TextScript(" jumps over"));

        var (status, body, _) = await PostJsonAsync("/v1/completions",
            $$"""{"model":"tiny-scout","prompt":{{JsonSerializer.Serialize(prompt)}},"max_tokens":50}""");

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.StartsWith("cmpl-", body.GetProperty("id").GetString());
        Assert.Equal("text_completion", body.GetProperty("object").GetString());
        Assert.Equal(ApiServerFixture.ModelId, body.GetProperty("model").GetString());
        var choice = Assert.Single(body.GetProperty("choices").EnumerateArray());
        Assert.Equal(" jumps over", choice.GetProperty("text").GetString());
        Assert.Equal("stop", choice.GetProperty("finish_reason").GetString());
        Assert.Equal(prompt, Assert.Single(Scheduler.SequencesFor(marker)).Submission.PromptTokens);
        var usage = body.GetProperty("usage");
        Assert.Equal(prompt.Count, usage.GetProperty("prompt_tokens").GetInt32());
        Assert.Equal(Server.Encode(" jumps over").Count, usage.GetProperty("completion_tokens").GetInt32());
        Assert.Equal(prompt.Count + Server.Encode(" jumps over").Count, usage.GetProperty("total_tokens").GetInt32());
    }

    [Fact]
    public async Task TextPrompt_GetsBeginOfText_EchoRepeatsIt_DefaultMaxTokensIs16()
    {
        var marker = NewMarker("echo");
        var promptText = $"{marker} Hello";
        Scheduler.On(marker, TextScript(" world"));

        var (_, body, _) = await PostJsonAsync("/v1/completions", $$"""{"model":"tiny-scout","prompt":["{{promptText}}"],"echo":true}""");

        Assert.Equal(promptText + " world", body.GetProperty("choices")[0].GetProperty("text").GetString());
        var submission = Assert.Single(Scheduler.SequencesFor(marker)).Submission;
        Assert.Equal([Server.Tokenizer.BeginOfText, .. Server.Encode(promptText)], submission.PromptTokens);
        Assert.Equal(16, submission.Sampling.MaxTokens);
    }

    [Fact]
    public async Task LegacyLogprobs_HaveTokensTokenLogprobsTopLogprobsAndTextOffsets()
    {
        var marker = NewMarker("legacy");
        var output = "Hello world";
        Scheduler.On(marker, TextScript(output));
        var tokens = Server.Encode(output);

        var (_, body, _) = await PostJsonAsync("/v1/completions", $$"""{"model":"tiny-scout","prompt":"{{marker}}","logprobs":2}""");

        var logprobs = body.GetProperty("choices")[0].GetProperty("logprobs");
        var texts = tokens.Select(t => Server.Tokenizer.Decode([t])).ToList();
        Assert.Equal(texts, logprobs.GetProperty("tokens").EnumerateArray().Select(t => t.GetString()));
        Assert.Equal(
            Enumerable.Range(0, tokens.Count).Select(i => -0.25 * (i + 1)),
            logprobs.GetProperty("token_logprobs").EnumerateArray().Select(t => Math.Round(t.GetDouble(), 5)));
        var offsets = logprobs.GetProperty("text_offset").EnumerateArray().Select(o => o.GetInt32()).ToList();
        Assert.Equal(texts.Select((_, i) => texts.Take(i).Sum(t => t.Length)), offsets);
        var top = logprobs.GetProperty("top_logprobs").EnumerateArray().ToList();
        Assert.Equal(tokens.Count, top.Count);
        for (var i = 0; i < tokens.Count; i++)
        {
            var entries = top[i].EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetDouble());
            Assert.Equal(2, entries.Count);
            Assert.Equal(-0.25 * (i + 1), entries[texts[i]], 5);
            Assert.Equal(-0.25 * (i + 1) - 1, entries[Server.Tokenizer.Decode([(tokens[i] + 1) % 256])], 5);
        }
    }

    [Fact]
    public async Task Streaming_SendsTextChunksThenDone()
    {
        var marker = NewMarker("cmpl-stream");
        var output = " and the world goes on";
        Scheduler.On(marker, TextScript(output) with { Paced = true });

        var (_, reader) = await PostStreamAsync("/v1/completions",
            $$$"""{"model":"tiny-scout","prompt":"{{{marker}}}","stream":true,"max_tokens":100,"stream_options":{"include_usage":true}}""");
        var chunks = await reader.ReadAllChunksAsync();

        var textChunks = chunks.Where(c => c.GetProperty("choices").GetArrayLength() > 0).ToList();
        Assert.All(chunks, c => Assert.Equal("text_completion", c.GetProperty("object").GetString()));
        Assert.Equal(output, string.Concat(textChunks.Select(c => c.GetProperty("choices")[0].GetProperty("text").GetString())));
        Assert.Equal("stop", textChunks[^1].GetProperty("choices")[0].GetProperty("finish_reason").GetString());
        var usage = chunks[^1].GetProperty("usage");
        Assert.Equal(Server.Encode(output).Count, usage.GetProperty("completion_tokens").GetInt32());
        Assert.Equal(1 + Server.Encode(marker).Count, usage.GetProperty("prompt_tokens").GetInt32());
    }

    [Fact]
    public async Task Streaming_WithEcho_SendsThePromptFirst()
    {
        var marker = NewMarker("echo-stream");
        Scheduler.On(marker, TextScript(" world"));

        var (_, reader) = await PostStreamAsync("/v1/completions", $$"""{"model":"tiny-scout","prompt":"{{marker}}","echo":true,"stream":true}""");
        var texts = (await reader.ReadAllChunksAsync()).Select(c => c.GetProperty("choices")[0].GetProperty("text").GetString()).ToList();

        Assert.Equal(marker, texts[0]);
        Assert.Equal(marker + " world", string.Concat(texts));
    }

    [Fact]
    public async Task BatchOfPrompts_WithN_IndexesChoicesPromptTimesNPlusI()
    {
        var marker = NewMarker("batch");
        Scheduler.On(marker, new FakeScript { Tokens = s => Server.Encode($" {s.PromptTokens.Count}-{s.Sampling.Seed}") });
        var first = Server.Encode($"{marker} a");
        var second = Server.Encode($"{marker} b c d");

        var (_, body, _) = await PostJsonAsync("/v1/completions",
            $$"""{"model":"tiny-scout","prompt":[{{JsonSerializer.Serialize(first)}},{{JsonSerializer.Serialize(second)}}],"n":2,"seed":3}""");

        var choices = body.GetProperty("choices").EnumerateArray().ToList();
        Assert.Equal([0, 1, 2, 3], choices.Select(c => c.GetProperty("index").GetInt32()));
        Assert.Equal(
            [$" {first.Count}-3", $" {first.Count}-4", $" {second.Count}-3", $" {second.Count}-4"],
            choices.Select(c => c.GetProperty("text").GetString()));
        Assert.Equal(first.Count + second.Count, body.GetProperty("usage").GetProperty("prompt_tokens").GetInt32());
    }
}
