using System.Collections.Immutable;
using System.Runtime.InteropServices;
using Llama4Cluster.Cluster.Hosting;
using Llama4Cluster.Contracts.Attention;
using Llama4Cluster.Contracts.Tensors;
using Llama4Cluster.Kernels.Checkpoints;
using Llama4Cluster.Core.Generation;
using Llama4Cluster.Kernels.Engine;
using Llama4Cluster.Kernels.Model;
using Llama4Cluster.Core.Sampling;
using Llama4Cluster.Silos.DataPlane;
using Llama4Cluster.Silos.Experts;
using Llama4Cluster.Silos.Hosting;
using Llama4Cluster.Cluster.Placement;
using Llama4Cluster.Silos.Placement;
using Microsoft.Extensions.Logging;
using TorchSharp;

namespace Llama4Cluster.Silos.Attention;

/// <summary>
/// One attention rank: every non-expert weight, and the KV cache and sampler of each sequence assigned to
/// it. A <see cref="StepAsync"/> runs <see cref="Llama4TextModel.ForwardAsync"/> over its ragged batch with a
/// <see cref="RemoteExpertDispatcher"/> (one call per expert shard with rows per MoE layer), then samples
/// locally and returns token ids — full-vocabulary logits only when an exactness test asks. The step runs on
/// the silo's compute threads; the Kernels code keeps every dispose scope inside a synchronous section.
/// Steps longer than the message budget are split into sub-steps so no dispatch message approaches
/// Orleans' maximum message size. Placed by <see cref="ExpertPlacement"/>: its integer key is the plan's rank.
/// </summary>
[GrainType(GrainTypeName), KeepAlive, ExpertPlacement]
public sealed partial class AttentionGrain : Grain, IAttentionGrain
{
    public const string GrainTypeName = "l4c-attention";

    private readonly SiloModelContext _context;
    private readonly ILogger<AttentionGrain> _logger;
    private readonly Dictionary<long, SequenceState> _sequences = new();
    private Llama4TextModel? _model;
    private RemoteExpertDispatcher? _dispatcher;
    private long _weightBytes;
    private long _stepTicks;

    private readonly DataPlaneClient _dataPlane;

    public AttentionGrain(SiloModelContext context, DataPlaneClient dataPlane, ILogger<AttentionGrain> logger)
    {
        _context = context;
        _dataPlane = dataPlane;
        _logger = logger;
    }

    private int Rank => (int)this.GetPrimaryKeyLong();

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        if (!_context.Role.HoldsAttention())
            throw new InvalidOperationException($"attention rank {Rank} cannot activate on silo {RuntimeIdentity}: its role is {_context.Role.ToText()} (Llama4:Role); " +
                "place attention ranks on silos with role attention or all (check the placement plan's inventory against the silos' --role)");
        IExpertShardTransport transport = _context.Options.DataPlane == DataPlaneKind.Tcp
            ? new TcpShardTransport(GrainFactory, _dataPlane)
            : new OrleansShardTransport(GrainFactory);
        var dispatcher = new RemoteExpertDispatcher(transport, _context.ShardMap, _context.WireDType, _context.ComputeDType,
            _context.Device, _context.Options.ShardTimeout) { Rank = Rank };
        var (model, bytes) = await _context.Compute.RunAsync(() =>
        {
            using var reader = CheckpointReader.Open(_context.Options.ModelDirectory);
            var m = Llama4TextModel.Load(new CheckpointWeightSource(reader),
                new ModelOptions { ComputeDType = _context.ComputeDType, Device = _context.Device }, dispatcher);
            return (m, reader.BytesRead);
        }, cancellationToken);
        _model = model;
        _dispatcher = dispatcher;
        _weightBytes = bytes;
        LogLoaded(Rank, bytes, RuntimeIdentity, _context.Device.ToString());
    }

    public override Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        foreach (var s in _sequences.Values) s.Dispose();
        _sequences.Clear();
        _model?.Dispose();
        _model = null;
        return Task.CompletedTask;
    }

    public Task<AttentionRankInfo> DescribeAsync() =>
        Task.FromResult(new AttentionRankInfo(Rank, RuntimeIdentity, _context.Device.ToString(), _sequences.Count, _weightBytes,
            _sequences.Values.Sum(s => s.Cache.AllocatedBytes), _dispatcher?.Statistics.Calls ?? 0,
            _dispatcher?.Statistics.BytesSent ?? 0, _dispatcher?.Statistics.BytesReceived ?? 0,
            TimeSpan.FromTicks(Interlocked.Read(ref _stepTicks)).TotalMilliseconds,
            _dispatcher?.Statistics.DispatchWait.TotalMilliseconds ?? 0, _dispatcher?.Statistics.ShardCompute.TotalMilliseconds ?? 0));

    public Task ReleaseAsync(ImmutableArray<long> sequenceIds)
    {
        foreach (long id in sequenceIds)
        {
            if (_sequences.Remove(id, out var s)) s.Dispose();
        }
        return Task.CompletedTask;
    }

    public async Task<StepResponse> StepAsync(StepRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (request.Sequences.IsDefaultOrEmpty) throw new ArgumentException("a step needs at least one sequence");
        var states = Admit(request);
        long started = System.Diagnostics.Stopwatch.GetTimestamp();
        try
        {
            return await _context.Compute.RunAsync(() => RunAsync(request, states, cancellationToken), cancellationToken);
        }
        catch (Exception e)
        {
            // A failed forward leaves these caches part-way through a step: drop them. The caller owns the
            // tokens and can start the sequences again.
            foreach (var s in states.Distinct())
            {
                _sequences.Remove(s.Id);
                s.Dispose();
            }
            LogStepFailed(e, Rank, request.Step, states.Count);
            throw;
        }
        finally
        {
            Interlocked.Add(ref _stepTicks, System.Diagnostics.Stopwatch.GetElapsedTime(started).Ticks);
        }
    }

    /// <summary>Finds or creates each sequence's state; validates before any tensor work.</summary>
    private List<SequenceState> Admit(StepRequest request)
    {
        var seen = new HashSet<long>();
        var states = new List<SequenceState>(request.Sequences.Length);
        foreach (var s in request.Sequences)
        {
            if (!seen.Add(s.SequenceId)) throw new ArgumentException($"sequence {s.SequenceId} appears twice in step {request.Step}");
            if (s.Tokens.IsDefaultOrEmpty) throw new ArgumentException($"sequence {s.SequenceId}: a step needs at least one new token");
            if (s.Start is not null && _sequences.ContainsKey(s.SequenceId))
                throw new ArgumentException($"sequence {s.SequenceId} is already running on rank {Rank}; Start is for its first step only");
            if (s.Start is null && !_sequences.ContainsKey(s.SequenceId))
                throw new ArgumentException($"sequence {s.SequenceId} is unknown on rank {Rank}: send Start with its first step (or re-prefill it after a failure)");
        }
        foreach (var s in request.Sequences)
        {
            if (s.Start is { } start)
            {
                var sampling = ToSamplingParams(start);
                var state = new SequenceState(s.SequenceId, new Sampler(sampling, start.EosTokenIds), _model!.CreateCache());
                _sequences.Add(s.SequenceId, state);
            }
            states.Add(_sequences[s.SequenceId]);
        }
        return states;
    }

    private async Task<StepResponse> RunAsync(StepRequest request, List<SequenceState> states, CancellationToken cancellationToken)
    {
        var model = _model!;
        var dispatcher = _dispatcher!;
        dispatcher.Step = request.Step;
        dispatcher.Pass = 0;
        int vocab = model.Config.VocabSize;
        bool anyLogits = request.Sequences.Any(s => s.ReturnLogits);
        int budget = _context.MaxStepTokens(anyLogits);
        var samples = new SampledTokenResult?[request.Sequences.Length];
        var logitRows = anyLogits ? new List<float>() : null;
        var offsets = new int[request.Sequences.Length];

        // Sub-steps: pack sequences' remaining tokens under the budget, in request order.
        while (offsets.Select((o, i) => o < request.Sequences[i].Tokens.Length).Any(x => x))
        {
            var slices = new List<SequenceSlice>();
            var owners = new List<(int Index, int Count, bool Last)>();
            int left = budget;
            for (int i = 0; i < request.Sequences.Length && left > 0; i++)
            {
                var seq = request.Sequences[i];
                int remaining = seq.Tokens.Length - offsets[i];
                if (remaining == 0) continue;
                int n = Math.Min(remaining, left);
                bool last = n == remaining;
                var tokens = seq.Tokens.AsSpan(offsets[i], n).ToArray();
                var want = seq.ReturnLogits ? LogitsRequest.All : seq.Sample && last ? LogitsRequest.Last : LogitsRequest.None;
                slices.Add(new SequenceSlice(states[i].Cache, tokens, want));
                owners.Add((i, n, last));
                left -= n;
            }

            using var logits = await model.ForwardAsync(slices, cancellationToken);
            dispatcher.Pass++;
            float[] rows = logits is null ? [] : Rows(logits);
            int row = 0;
            for (int k = 0; k < owners.Count; k++)
            {
                var (i, n, last) = owners[k];
                var seq = request.Sequences[i];
                var state = states[i];
                state.Fed(seq.Tokens.AsSpan(offsets[i], n));
                offsets[i] += n;
                int produced = slices[k].Logits switch { LogitsRequest.All => n, LogitsRequest.Last => 1, _ => 0 };
                if (seq.ReturnLogits) logitRows!.AddRange(rows.AsSpan(row * vocab, n * vocab));
                if (seq.Sample && last)
                {
                    var lastRow = rows.AsSpan((row + produced - 1) * vocab, vocab);
                    samples[i] = state.Sample(lastRow);
                }
                row += produced;
            }
        }

        TensorPayload? logitsPayload = null;
        if (logitRows is not null)
        {
            var bytes = MemoryMarshal.AsBytes(CollectionsMarshal.AsSpan(logitRows)).ToArray();
            logitsPayload = new TensorPayload(WireDType.Float32, [logitRows.Count / vocab, vocab], bytes);
        }
        return new StepResponse([.. samples.OfType<SampledTokenResult>()], logitsPayload);
    }

    private static float[] Rows(torch.Tensor logits)
    {
        using var cpu = logits.cpu();
        return cpu.data<float>().ToArray();
    }

    private static SamplingParams ToSamplingParams(SequenceStart s) => new()
    {
        Temperature = s.Temperature,
        TopP = s.TopP,
        TopK = s.TopK,
        MinP = s.MinP,
        Seed = s.Seed,
        RepetitionPenalty = s.RepetitionPenalty,
        PresencePenalty = s.PresencePenalty,
        FrequencyPenalty = s.FrequencyPenalty,
        StopTokenIds = s.StopTokenIds.IsDefault ? [] : [.. s.StopTokenIds],
        IgnoreEos = s.IgnoreEos,
        TopLogprobs = s.TopLogprobs,
    };

    [LoggerMessage(Level = LogLevel.Information, Message = "Attention rank {Rank}: loaded non-expert weights ({Bytes} bytes read) on silo {Silo}, device {Device}")]
    private partial void LogLoaded(int rank, long bytes, string silo, string device);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Attention rank {Rank}: step {Step} failed; dropped the state of its {Sequences} sequences")]
    private partial void LogStepFailed(Exception exception, int rank, long step, int sequences);

    /// <summary>A sequence on this rank: its KV cache, sampler and the tokens the sampler's penalties read.</summary>
    private sealed class SequenceState(long id, Sampler sampler, KvCache cache) : IDisposable
    {
        private readonly List<int> _prompt = new();
        private readonly List<int> _generated = new();
        private bool _sampled;

        public long Id { get; } = id;
        public KvCache Cache { get; } = cache;

        /// <summary>Tokens fed before the first sample are the prompt; after it, generated tokens.</summary>
        public void Fed(ReadOnlySpan<int> tokens)
        {
            var into = _sampled ? _generated : _prompt;
            foreach (int t in tokens) into.Add(t);
        }

        public SampledTokenResult Sample(ReadOnlySpan<float> logits)
        {
            var token = sampler.Sample(logits, _prompt, _generated);
            _sampled = true;
            var top = token.TopLogprobs is null ? ImmutableArray<TokenLogprobResult>.Empty
                : [.. token.TopLogprobs.Select(t => new TokenLogprobResult(t.TokenId, t.Logprob))];
            return new SampledTokenResult(Id, token.TokenId, token.Logprob, top);
        }

        public void Dispose() => Cache.Dispose();
    }
}
