using Microsoft.Extensions.Options;

namespace Llama4Cluster.Gateway.Hosting;

/// <summary>Checks <see cref="ReadinessOptions"/> at startup: every time must be positive.</summary>
public sealed class ReadinessOptionsValidator : IValidateOptions<ReadinessOptions>
{
    public ValidateOptionsResult Validate(string? name, ReadinessOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var errors = new List<string>();
        foreach (var (key, value) in new[]
        {
            (nameof(options.Interval), options.Interval), (nameof(options.Timeout), options.Timeout),
            (nameof(options.StaleAfter), options.StaleAfter), (nameof(options.BusyGrace), options.BusyGrace),
        })
        {
            if (value <= TimeSpan.Zero) errors.Add($"{ReadinessOptions.SectionName}:{key} is {value}: set a positive time such as 00:00:02.");
        }
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
