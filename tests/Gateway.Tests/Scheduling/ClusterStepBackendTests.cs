using System.Collections.Concurrent;
using System.Collections.Immutable;
using System.Reflection;
using Llama4Cluster.Cluster.Stepping;
using Llama4Cluster.Contracts.Attention;
using Llama4Cluster.Core.Sampling;
using Llama4Cluster.Core.Scheduling;
using Llama4Cluster.Gateway.Scheduling;
using Microsoft.Extensions.DependencyInjection;

namespace Llama4Cluster.Gateway.Tests.Scheduling;

public sealed class ClusterStepBackendTests
{
    [Fact]
    public async Task RankNIsTheAttentionGrainWithKeyN()
    {
        var grains = RecordingGrains.Create();
        var services = new ServiceCollection().AddSingleton(grains).AddClusterStepBackend(3).AddClusterStepBackend(3);
        using var provider = services.BuildServiceProvider();
        var backend = Assert.IsType<ClusterStepBackend>(provider.GetRequiredService<IStepBackend>());
        Assert.Equal(3, backend.Ranks);

        var request = new RankStep(7, [new SequenceWork(11, new[] { 1, 2 }, new SequenceSettings(new SamplingParams(), [2]), Sample: true)]);
        var response = await backend.StepAsync(2, request, CancellationToken.None);
        await backend.ReleaseAsync(1, [11]);

        Assert.Equal(2, Assert.Single(response.Samples).Token.TokenId); // the fake grain answers with its key
        var log = ((RecordingGrains)grains).Log;
        Assert.Contains("step 7 on 2", log);
        Assert.Contains("release 11 on 1", log);
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => backend.StepAsync(3, request, CancellationToken.None));
    }

    /// <summary>An <see cref="IGrainFactory"/> whose integer-keyed attention grains record their calls.</summary>
    public class RecordingGrains : DispatchProxy
    {
        public ConcurrentQueue<string> Log { get; } = new();

        public static IGrainFactory Create() => DispatchProxy.Create<IGrainFactory, RecordingGrains>();

        protected override object? Invoke(MethodInfo? targetMethod, object?[]? args)
        {
            if (targetMethod is { Name: nameof(IGrainFactory.GetGrain), IsGenericMethod: true } && targetMethod.GetGenericArguments()[0] == typeof(IAttentionGrain)
                && args is [long key, ..])
            {
                return new Grain(key, Log);
            }

            throw new NotSupportedException(targetMethod?.ToString());
        }

        private sealed class Grain(long key, ConcurrentQueue<string> log) : IAttentionGrain
        {
            public Task<StepResponse> StepAsync(StepRequest request, CancellationToken cancellationToken = default)
            {
                log.Enqueue($"step {request.Step} on {key}");
                return Task.FromResult(new StepResponse([new SampledTokenResult(request.Sequences[0].SequenceId, (int)key, null, [])], null));
            }

            public Task ReleaseAsync(ImmutableArray<long> sequenceIds)
            {
                log.Enqueue($"release {string.Join(",", sequenceIds)} on {key}");
                return Task.CompletedTask;
            }

            public Task<AttentionRankInfo> DescribeAsync() => throw new NotSupportedException();
        }
    }
}
