using Llama4Cluster.Core.Scheduling;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Llama4Cluster.Core.Tests.Scheduling;

public sealed class SchedulerOptionsValidatorTests
{
    [Fact]
    public void DefaultsAreValid()
    {
        var result = new SchedulerOptionsValidator().Validate(null, new SchedulerOptions());
        Assert.True(result.Succeeded, result.FailureMessage);
    }

    [Fact]
    public void StepBudgetBelowRunningSequencesIsRefusedWithTheFix()
    {
        var result = new SchedulerOptionsValidator().Validate(null, new SchedulerOptions { MaxRunningSequences = 64, MaxStepTokens = 32 });
        Assert.True(result.Failed);
        Assert.Contains("MaxStepTokens (32) must be at least MaxRunningSequences (64)", result.FailureMessage);
        Assert.Contains("raise MaxStepTokens", result.FailureMessage);
    }

    [Theory]
    [InlineData(256, 16384)] // 64 × 256
    [InlineData(100_000, SchedulerOptions.DefaultKvTokenCapacityCap)] // 64 × 100,000 is capped
    [InlineData(10_485_760, 10_485_760)] // never below one sequence of the full length
    public void DefaultKvCapacityIsRunningSequencesTimesMaxLengthCapped(int maxModelLength, long expected)
    {
        Assert.Equal(expected, new SchedulerOptions().ResolveKvTokenCapacity(maxModelLength));
        Assert.Equal(1234, new SchedulerOptions { KvTokenCapacity = 1234 }.ResolveKvTokenCapacity(maxModelLength));
    }

    [Fact]
    public void SchedulerRefusesAKvBudgetBelowTheModelsMaxLength()
    {
        var e = Assert.Throws<ArgumentException>(() => new ContinuousBatchScheduler(new FakeStepBackend(1), TestModel.Limits,
            Options.Create(new SchedulerOptions { KvTokenCapacity = 100 }), NullLogger<ContinuousBatchScheduler>.Instance));
        Assert.Contains("KvTokenCapacity (100) is below the model's max length (256)", e.Message);
    }
}
