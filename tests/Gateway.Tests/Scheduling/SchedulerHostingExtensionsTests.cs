using Llama4Cluster.Core.Scheduling;
using Llama4Cluster.Core.Tests.Scheduling;
using Llama4Cluster.Gateway.Scheduling;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Llama4Cluster.Gateway.Tests.Scheduling;

public sealed class SchedulerHostingExtensionsTests
{
    [Fact]
    public void OneSchedulerServesAsGenerationSchedulerAndHostedServiceEvenWhenAddedTwice()
    {
        var services = new ServiceCollection().AddLogging().AddSingleton(ServedTestModel.Served).AddSingleton<IStepBackend>(new FakeStepBackend(2));
        services.AddGenerationScheduler(o => o.MaxRunningSequences = 8).AddGenerationScheduler();
        using var provider = services.BuildServiceProvider();

        var scheduler = provider.GetRequiredService<IGenerationScheduler>();
        Assert.IsType<ContinuousBatchScheduler>(scheduler);
        Assert.Same(scheduler, Assert.Single(provider.GetServices<IHostedService>()));
        Assert.Equal(8, provider.GetRequiredService<IOptions<SchedulerOptions>>().Value.MaxRunningSequences);
        Assert.Equal(8 * 256, scheduler.Snapshot().KvTokenCapacity);
    }

    [Fact]
    public void InvalidOptionsAreReportedWhenResolved()
    {
        var services = new ServiceCollection().AddLogging().AddSingleton(ServedTestModel.Served).AddSingleton<IStepBackend>(new FakeStepBackend(1));
        services.AddGenerationScheduler(o => o.MaxWaitingRequests = 0);
        using var provider = services.BuildServiceProvider();

        var e = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IGenerationScheduler>());
        Assert.Contains("MaxWaitingRequests must be at least 1", e.Message);
    }

    [Fact]
    public async Task HostedSchedulerServesUntilTheHostStops()
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Services.AddSingleton(ServedTestModel.Served).AddSingleton<IStepBackend>(new FakeStepBackend(2)).AddGenerationScheduler();
        using var host = builder.Build();
        await host.StartAsync();
        var scheduler = host.Services.GetRequiredService<IGenerationScheduler>();
        var prompt = SchedulerHarness.Prompt(5, 1);
        var handle = scheduler.Submit(new(prompt, SchedulerHarness.Greedy(4)));
        var outcome = await SchedulerHarness.OutcomeAsync(handle);
        Assert.Equal(new FakeStepBackend(1).Reference(prompt, 4), outcome.Tokens);
        await host.StopAsync();
    }
}
