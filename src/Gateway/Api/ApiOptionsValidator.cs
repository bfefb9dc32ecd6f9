using Microsoft.Extensions.Options;

namespace Llama4Cluster.Gateway.Api;

/// <summary>Checks <see cref="ApiOptions"/> at startup; each message says how to fix the setting.</summary>
public sealed class ApiOptionsValidator : IValidateOptions<ApiOptions>
{
    public ValidateOptionsResult Validate(string? name, ApiOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var errors = new List<string>();
        if (options.MaxRequestBodyBytes < 1024)
            errors.Add($"Api:MaxRequestBodyBytes is {options.MaxRequestBodyBytes}: set at least 1024 bytes (the default is 8 MiB).");
        if (options.KeepAliveInterval <= TimeSpan.Zero)
            errors.Add($"Api:KeepAliveInterval is {options.KeepAliveInterval}: set a positive interval such as 00:00:05.");
        if (options.DefaultRequestTimeout is { } timeout && timeout <= TimeSpan.Zero)
            errors.Add($"Api:DefaultRequestTimeout is {timeout}: leave it unset (the scheduler's default) or set a positive bound.");
        if (options.Limits is not { } limits)
            errors.Add("Api:Limits is null: leave it at its defaults or set every limit.");
        else
            ValidateLimits(limits, errors);
        if (options.ImageUrlTimeout <= TimeSpan.Zero)
            errors.Add($"Api:ImageUrlTimeout is {options.ImageUrlTimeout}: set a positive bound such as 00:00:10.");
        if (string.IsNullOrWhiteSpace(options.OwnedBy))
            errors.Add("Api:OwnedBy is empty: set the owner name shown by GET /v1/models.");
        if (options.ApiKey is { Length: > 0 } key && key.Trim() != key)
            errors.Add("Api:ApiKey has leading or trailing whitespace: clients cannot send it in a header; remove it.");
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

    private static void ValidateLimits(RequestLimits limits, List<string> errors)
    {
        foreach (var (name, value) in new[]
        {
            (nameof(limits.MaxChoices), limits.MaxChoices), (nameof(limits.MaxPrompts), limits.MaxPrompts),
            (nameof(limits.MaxSequences), limits.MaxSequences), (nameof(limits.MaxMessages), limits.MaxMessages),
            (nameof(limits.MaxStopStrings), limits.MaxStopStrings), (nameof(limits.MaxStopStringLength), limits.MaxStopStringLength),
            (nameof(limits.MaxStopTokenIds), limits.MaxStopTokenIds), (nameof(limits.MaxTools), limits.MaxTools),
            (nameof(limits.MaxImages), limits.MaxImages), (nameof(limits.MaxImageBytes), limits.MaxImageBytes),
            (nameof(limits.MaxImageTiles), limits.MaxImageTiles), (nameof(limits.MaxImagePixels), (int)Math.Min(limits.MaxImagePixels, int.MaxValue)),
        })
        {
            if (value < 1)
                errors.Add($"Api:Limits:{name} is {value}: set at least 1.");
        }

        if (limits.MaxSequences < limits.MaxChoices)
            errors.Add($"Api:Limits:MaxSequences ({limits.MaxSequences}) is below MaxChoices ({limits.MaxChoices}): a single prompt could not take the largest n; raise it.");
    }
}
