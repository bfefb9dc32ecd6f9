using System.Net;
using System.Text;
using System.Text.Json;
using Llama4Cluster.Core.Tokenization;

namespace Llama4Cluster.Gateway.Tests.Api;

[Collection(ApiCollection.Name)]
public sealed class ChatCompletionsTests(ApiServerFixture server) : ApiTestBase(server)
{
    [Fact]
    public async Task NonStreaming_ReturnsTheTextFinishReasonAndExactUsage()
    {
        var marker = NewMarker("plain");
        var output = "Hello world! The sun is up.";
        Scheduler.On(marker, TextScript(output));

        var (status, body, _) = await PostJsonAsync("/v1/chat/completions", ChatBody(marker));

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.StartsWith("chatcmpl-", body.GetProperty("id").GetString());
        Assert.Equal("chat.completion", body.GetProperty("object").GetString());
        Assert.Equal(ApiServerFixture.ModelId, body.GetProperty("model").GetString());
        Assert.True(body.GetProperty("created").GetInt64() > 1_600_000_000);
        var choice = Assert.Single(body.GetProperty("choices").EnumerateArray());
        Assert.Equal(0, choice.GetProperty("index").GetInt32());
        Assert.Equal("assistant", choice.GetProperty("message").GetProperty("role").GetString());
        Assert.Equal(output, choice.GetProperty("message").GetProperty("content").GetString());
        Assert.Equal("stop", choice.GetProperty("finish_reason").GetString());
        Assert.Equal(JsonValueKind.Null, choice.GetProperty("logprobs").ValueKind);
        var promptTokens = Server.ChatPromptLength(marker);
        var completionTokens = Server.Encode(output).Count;
        AssertUsage(body.GetProperty("usage"), promptTokens, completionTokens);

        var sequence = Assert.Single(Scheduler.SequencesFor(marker));
        Assert.Equal(ChatTemplate.Encode(Server.Tokenizer, [new ChatMessage("user", marker)]), sequence.Submission.PromptTokens);
        // No max_tokens: the rest of the context, as vLLM.
        Assert.Equal(ApiServerFixture.MaxModelLength - promptTokens, sequence.Submission.Sampling.MaxTokens);
    }

    [Fact]
    public async Task Streaming_SendsRoleChunkContentChunksFinishChunkAndDone()
    {
        var marker = NewMarker("sse");
        var output = "Hello there, world.";
        Scheduler.On(marker, TextScript(output));

        var (_, reader) = await PostStreamAsync("/v1/chat/completions", ChatBody(marker, ""","stream":true"""));
        var chunks = await reader.ReadAllChunksAsync();

        Assert.True(chunks.Count >= 3);
        var id = chunks[0].GetProperty("id").GetString();
        Assert.StartsWith("chatcmpl-", id);
        foreach (var chunk in chunks)
        {
            Assert.Equal(id, chunk.GetProperty("id").GetString());
            Assert.Equal("chat.completion.chunk", chunk.GetProperty("object").GetString());
            Assert.Equal(ApiServerFixture.ModelId, chunk.GetProperty("model").GetString());
            Assert.False(chunk.TryGetProperty("usage", out _));
        }

        var first = chunks[0].GetProperty("choices")[0];
        Assert.Equal("assistant", first.GetProperty("delta").GetProperty("role").GetString());
        Assert.Equal(JsonValueKind.Null, first.GetProperty("finish_reason").ValueKind);
        Assert.All(chunks.Skip(1), c => Assert.False(c.GetProperty("choices")[0].GetProperty("delta").TryGetProperty("role", out _)));
        Assert.Equal(output, string.Concat(chunks.Select(DeltaContent)));
        var last = chunks[^1].GetProperty("choices")[0];
        Assert.Equal("stop", last.GetProperty("finish_reason").GetString());
        Assert.All(chunks.SkipLast(1), c => Assert.Equal(JsonValueKind.Null, c.GetProperty("choices")[0].GetProperty("finish_reason").ValueKind));
    }

    [Fact]
    public async Task Streaming_IncludeUsage_EndsWithAUsageChunkWithoutChoices()
    {
        var marker = NewMarker("usage");
        var output = "What is the capital of France?";
        Scheduler.On(marker, TextScript(output));

        var (_, reader) = await PostStreamAsync(
            "/v1/chat/completions", ChatBody(marker, ""","stream":true,"stream_options":{"include_usage":true}"""));
        var chunks = await reader.ReadAllChunksAsync();

        var usageChunk = chunks[^1];
        Assert.Empty(usageChunk.GetProperty("choices").EnumerateArray());
        AssertUsage(usageChunk.GetProperty("usage"), Server.ChatPromptLength(marker), Server.Encode(output).Count);
        Assert.Equal("stop", chunks[^2].GetProperty("choices")[0].GetProperty("finish_reason").GetString());
    }

    [Fact]
    public async Task Streaming_SendsKeepAliveCommentsWhileWaitingForTheFirstToken()
    {
        var marker = NewMarker("prefill");
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Scheduler.On(marker, TextScript("Hello world") with { Gate = gate });

        var (_, reader) = await PostStreamAsync("/v1/chat/completions", ChatBody(marker, ""","stream":true"""));
        Assert.Equal(": keep-alive", await reader.NextEventAsync());
        Assert.Equal(": keep-alive", await reader.NextEventAsync());
        gate.SetResult();
        var chunks = await reader.ReadAllChunksAsync();

        Assert.Equal("Hello world", string.Concat(chunks.Select(DeltaContent)));
        Assert.Equal("assistant", chunks[0].GetProperty("choices")[0].GetProperty("delta").GetProperty("role").GetString());
    }

    [Fact]
    public async Task MaxTokens_EndsWithLength_AndMaxCompletionTokensWins()
    {
        var marker = NewMarker("length");
        Scheduler.On(marker, TextScript("one two three four five six seven"));

        var (_, body, _) = await PostJsonAsync("/v1/chat/completions", ChatBody(marker, ""","max_tokens":1,"max_completion_tokens":3"""));

        var choice = body.GetProperty("choices")[0];
        Assert.Equal("length", choice.GetProperty("finish_reason").GetString());
        Assert.Equal(3, body.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
        var tokens = Server.Encode("one two three four five six seven");
        Assert.Equal(Server.Tokenizer.Decode(tokens.Take(3)), choice.GetProperty("message").GetProperty("content").GetString());
        Assert.Equal(3, Assert.Single(Scheduler.SequencesFor(marker)).Submission.Sampling.MaxTokens);
    }

    [Fact]
    public async Task SamplingParameters_ReachTheScheduler()
    {
        var marker = NewMarker("params");
        Scheduler.On(marker, TextScript("Hello"));

        var (status, _, _) = await PostJsonAsync("/v1/chat/completions", ChatBody(marker, """
            ,"temperature":0.7,"top_p":0.9,"top_k":40,"min_p":0.05,"seed":1234,"presence_penalty":0.5,
            "frequency_penalty":-0.5,"repetition_penalty":1.1,"ignore_eos":true,"stop_token_ids":[7,9],"max_tokens":12,
            "user":"someone","unknown_field":{"ignored":[1,2,3]}
            """));

        Assert.Equal(HttpStatusCode.OK, status);
        var submission = Assert.Single(Scheduler.SequencesFor(marker)).Submission;
        Assert.Equal(ApiServerFixture.RequestTimeout, submission.Timeout);
        Assert.True(submission.CancellationToken.CanBeCanceled); // the request's abort token
        var sampling = submission.Sampling;
        Assert.Equal(0.7f, sampling.Temperature);
        Assert.Equal(0.9f, sampling.TopP);
        Assert.Equal(40, sampling.TopK);
        Assert.Equal(0.05f, sampling.MinP);
        Assert.Equal(1234L, sampling.Seed);
        Assert.Equal(0.5f, sampling.PresencePenalty);
        Assert.Equal(-0.5f, sampling.FrequencyPenalty);
        Assert.Equal(1.1f, sampling.RepetitionPenalty);
        Assert.True(sampling.IgnoreEos);
        Assert.Equal([7, 9], sampling.StopTokenIds);
        Assert.Equal(12, sampling.MaxTokens);
        Assert.Null(sampling.TopLogprobs);
    }

    [Fact]
    public async Task NChoices_AreIndependentSequencesSeededSeedPlusIndex()
    {
        var marker = NewMarker("n");
        Scheduler.On(marker, new FakeScript { Tokens = s => Server.Encode($"choice {s.Sampling.Seed}") });

        var (_, body, _) = await PostJsonAsync("/v1/chat/completions", ChatBody(marker, ""","n":3,"seed":10"""));

        var choices = body.GetProperty("choices").EnumerateArray().ToList();
        Assert.Equal([0, 1, 2], choices.Select(c => c.GetProperty("index").GetInt32()));
        Assert.Equal(["choice 10", "choice 11", "choice 12"], choices.Select(c => c.GetProperty("message").GetProperty("content").GetString()));
        Assert.Equal([10L, 11L, 12L], Scheduler.SequencesFor(marker).Select(s => s.Submission.Sampling.Seed!.Value).Order());
        var completion = Enumerable.Range(10, 3).Sum(seed => Server.Encode($"choice {seed}").Count);
        AssertUsage(body.GetProperty("usage"), Server.ChatPromptLength(marker), completion);
    }

    [Fact]
    public async Task NChoices_StreamInterleavedByIndex()
    {
        var marker = NewMarker("n-stream");
        Scheduler.On(marker, new FakeScript { Tokens = s => Server.Encode($"stream {s.Sampling.Seed} of the world"), Paced = true });

        var (_, reader) = await PostStreamAsync(
            "/v1/chat/completions", ChatBody(marker, ""","n":2,"seed":5,"stream":true,"stream_options":{"include_usage":true}"""));
        var chunks = await reader.ReadAllChunksAsync();

        var byIndex = chunks.Where(c => c.GetProperty("choices").GetArrayLength() > 0)
            .Select(c => c.GetProperty("choices")[0])
            .GroupBy(c => c.GetProperty("index").GetInt32())
            .ToDictionary(g => g.Key, g => g.ToList());
        Assert.Equal([0, 1], byIndex.Keys.Order());
        for (var i = 0; i < 2; i++)
        {
            var parts = byIndex[i];
            Assert.Equal("assistant", parts[0].GetProperty("delta").GetProperty("role").GetString());
            Assert.Equal($"stream {5 + i} of the world", string.Concat(parts.Select(p => p.GetProperty("delta").TryGetProperty("content", out var c) ? c.GetString() : "")));
            Assert.Equal("stop", parts[^1].GetProperty("finish_reason").GetString());
            Assert.Single(parts, p => p.GetProperty("finish_reason").ValueKind != JsonValueKind.Null);
        }

        var completion = Server.Encode("stream 5 of the world").Count + Server.Encode("stream 6 of the world").Count;
        AssertUsage(chunks[^1].GetProperty("usage"), Server.ChatPromptLength(marker), completion);
    }

    [Fact]
    public async Task Logprobs_ChatFormatWithTopLogprobs_StreamingAndNot()
    {
        var marker = NewMarker("logprobs");
        var output = "Hello world";
        Scheduler.On(marker, TextScript(output));
        var tokens = Server.Encode(output);

        var (_, body, _) = await PostJsonAsync("/v1/chat/completions", ChatBody(marker, ""","logprobs":true,"top_logprobs":2"""));
        var content = body.GetProperty("choices")[0].GetProperty("logprobs").GetProperty("content").EnumerateArray().ToList();
        Assert.Equal(tokens.Count, content.Count);
        for (var i = 0; i < tokens.Count; i++)
        {
            var entry = content[i];
            Assert.Equal(Server.Tokenizer.Decode([tokens[i]]), entry.GetProperty("token").GetString());
            Assert.Equal(-0.25 * (i + 1), entry.GetProperty("logprob").GetDouble(), 5);
            Assert.Equal(Server.Tokenizer.GetTokenBytes(tokens[i]).ToArray(), entry.GetProperty("bytes").EnumerateArray().Select(b => (byte)b.GetInt32()));
            var top = entry.GetProperty("top_logprobs").EnumerateArray().ToList();
            Assert.Equal(2, top.Count);
            Assert.Equal(entry.GetProperty("token").GetString(), top[0].GetProperty("token").GetString());
            Assert.Equal(-0.25 * (i + 1) - 1, top[1].GetProperty("logprob").GetDouble(), 5);
            Assert.True(top[1].TryGetProperty("bytes", out _));
        }

        Assert.Equal(2, Assert.Single(Scheduler.SequencesFor(marker)).Submission.Sampling.TopLogprobs);

        var streamMarker = NewMarker("logprobs-stream");
        Scheduler.On(streamMarker, TextScript(output));
        var (_, reader) = await PostStreamAsync("/v1/chat/completions", ChatBody(streamMarker, ""","stream":true,"logprobs":true"""));
        var chunks = await reader.ReadAllChunksAsync();
        var streamed = chunks.Skip(1)
            .SelectMany(c => c.GetProperty("choices")[0].GetProperty("logprobs").GetProperty("content").EnumerateArray())
            .ToList();
        Assert.Equal(tokens.Select(t => Server.Tokenizer.Decode([t])), streamed.Select(e => e.GetProperty("token").GetString()));
        Assert.All(streamed, e => Assert.Empty(e.GetProperty("top_logprobs").EnumerateArray()));
    }

    [Fact]
    public async Task StopString_SpanningTokens_IsCutCancelsTheSequenceAndFinishesWithStop()
    {
        var marker = NewMarker("stop");
        var output = "Hello world! The world is big.";
        var tokens = Server.Encode(output);
        // "lo wo" starts inside one token and ends inside the next.
        Assert.DoesNotContain(tokens, t => Server.Tokenizer.Decode([t]).Contains("lo wo", StringComparison.Ordinal));
        Scheduler.On(marker, new FakeScript { Tokens = _ => tokens, Paced = true, End = FakeEnd.Hang });

        var (_, body, _) = await PostJsonAsync("/v1/chat/completions", ChatBody(marker, ""","stop":["never","lo wo"]"""));

        var choice = body.GetProperty("choices")[0];
        Assert.Equal("Hel", choice.GetProperty("message").GetProperty("content").GetString());
        Assert.Equal("stop", choice.GetProperty("finish_reason").GetString());
        Assert.Equal("lo wo", choice.GetProperty("stop_reason").GetString());
        // The tokens up to the one completing the stop string count.
        var needed = 0;
        var text = new StringBuilder();
        while (!text.ToString().Contains("lo wo", StringComparison.Ordinal))
        {
            text.Append(Server.Tokenizer.Decode([tokens[needed++]]));
        }

        Assert.Equal(needed, body.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
        await Assert.Single(Scheduler.SequencesFor(marker)).CancelObserved.Task.WaitAsync(TimeSpan.FromSeconds(30));
    }

    [Fact]
    public async Task StopString_WhenStreaming_HoldsBackOnlyPossibleStarts()
    {
        var marker = NewMarker("stop-stream");
        var output = "Hello world! The world is big.";
        Scheduler.On(marker, new FakeScript { Tokens = _ => Server.Encode(output), Paced = true, End = FakeEnd.Hang });

        var (_, reader) = await PostStreamAsync("/v1/chat/completions", ChatBody(marker, ""","stream":true,"stop":"is big" """));
        var chunks = await reader.ReadAllChunksAsync();

        var deltas = chunks.Select(DeltaContent).ToList();
        Assert.Equal("Hello world! The world ", string.Concat(deltas));
        Assert.DoesNotContain(deltas, d => d.Contains("is", StringComparison.Ordinal));
        // The first token's text can never start "is big": it goes out in its own chunk, before the stream ends.
        Assert.Equal(Server.Tokenizer.Decode([Server.Encode(output)[0]]), deltas[1]);
        Assert.Equal("stop", chunks[^1].GetProperty("choices")[0].GetProperty("finish_reason").GetString());
        await Assert.Single(Scheduler.SequencesFor(marker)).CancelObserved.Task.WaitAsync(TimeSpan.FromSeconds(30));
    }

    [Fact]
    public async Task StopToken_ReportsItsIdAsStopReason()
    {
        var marker = NewMarker("stop-token");
        Scheduler.On(marker, TextScript("Hello") with { End = FakeEnd.StopToken, StopTokenId = 42 });

        var (_, body, _) = await PostJsonAsync("/v1/chat/completions", ChatBody(marker, ""","stop_token_ids":[42]"""));

        var choice = body.GetProperty("choices")[0];
        Assert.Equal("stop", choice.GetProperty("finish_reason").GetString());
        Assert.Equal(42, choice.GetProperty("stop_reason").GetInt32());
    }

    [Fact]
    public async Task MultiByteCharacters_SplitAcrossTokens_AreNeverSentBroken()
    {
        var marker = NewMarker("utf8");
        var output = "héllo 世界";
        // Every byte its own token (ids 0..255 are the single bytes): each character arrives in pieces.
        var bytes = Encoding.UTF8.GetBytes(output).Select(b => (int)b).ToList();
        Scheduler.On(marker, new FakeScript { Tokens = _ => bytes, Paced = true });

        var (_, reader) = await PostStreamAsync("/v1/chat/completions", ChatBody(marker, ""","stream":true"""));
        var deltas = (await reader.ReadAllChunksAsync()).Select(DeltaContent).ToList();

        Assert.Equal(output, string.Concat(deltas));
        Assert.DoesNotContain(deltas, d => d.Contains('\uFFFD'));

        var (_, body, _) = await PostJsonAsync("/v1/chat/completions", ChatBody(marker));
        Assert.Equal(output, body.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString());
    }

    [Fact]
    public async Task Messages_TextPartsAreJoinedAndDeveloperIsSystem()
    {
        var marker = NewMarker("parts");
        Scheduler.On(marker, TextScript("ok"));
        var json = $$"""
            {"model":"tiny-scout","messages":[
              {"role":"developer","content":"You are a helpful assistant."},
              {"role":"user","content":[{"type":"text","text":"{{marker}} part one"},{"type":"text","text":"part two"}]},
              {"role":"assistant","content":null},
              {"role":"user","content":"again"}]}
            """;

        var (status, _, _) = await PostJsonAsync("/v1/chat/completions", json);

        Assert.Equal(HttpStatusCode.OK, status);
        var expected = ChatTemplate.Encode(Server.Tokenizer,
        [
            new ChatMessage("system", "You are a helpful assistant."),
            new ChatMessage("user", $"{marker} part one\npart two"),
            new ChatMessage("assistant", ""),
            new ChatMessage("user", "again"),
        ]);
        Assert.Equal(expected, Assert.Single(Scheduler.SequencesFor(marker)).Submission.PromptTokens);
    }

    [Fact]
    public async Task ClientDisconnect_CancelsTheSequence_StreamingAndNot()
    {
        var marker = NewMarker("disconnect");
        Scheduler.On(marker, new FakeScript { Tokens = _ => Server.Encode("Hello"), Paced = true, End = FakeEnd.Hang });

        var (response, reader) = await PostStreamAsync("/v1/chat/completions", ChatBody(marker, ""","stream":true"""));
        Assert.Contains("assistant", await reader.NextDataAsync());
        response.Dispose(); // closes the connection mid-stream
        await Assert.Single(Scheduler.SequencesFor(marker)).CancelObserved.Task.WaitAsync(TimeSpan.FromSeconds(30));

        var quietMarker = NewMarker("disconnect-quiet");
        Scheduler.On(quietMarker, new FakeScript { Tokens = _ => [], Paced = true, End = FakeEnd.Hang });
        using var cancel = new CancellationTokenSource();
        var pending = PostAsync("/v1/chat/completions", ChatBody(quietMarker), cancel: cancel.Token);
        var sequence = await WaitForSequenceAsync(quietMarker);
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => pending);
        await sequence.CancelObserved.Task.WaitAsync(TimeSpan.FromSeconds(30));
        await AssertServerAnswersAsync();
    }

    private async Task<FakeSequence> WaitForSequenceAsync(string marker)
    {
        for (var i = 0; i < 3000; i++)
        {
            if (Scheduler.SequencesFor(marker) is [var sequence])
            {
                return sequence;
            }

            await Task.Delay(10);
        }

        throw new TimeoutException($"no sequence was submitted for {marker}");
    }

    private static string DeltaContent(JsonElement chunk) =>
        chunk.GetProperty("choices").GetArrayLength() > 0
        && chunk.GetProperty("choices")[0].GetProperty("delta").TryGetProperty("content", out var content)
            ? content.GetString()!
            : string.Empty;

    private static void AssertUsage(JsonElement usage, int prompt, int completion)
    {
        Assert.Equal(prompt, usage.GetProperty("prompt_tokens").GetInt32());
        Assert.Equal(completion, usage.GetProperty("completion_tokens").GetInt32());
        Assert.Equal(prompt + completion, usage.GetProperty("total_tokens").GetInt32());
    }
}
