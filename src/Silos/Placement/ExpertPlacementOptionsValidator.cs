using Microsoft.Extensions.Options;

using Llama4Cluster.Cluster.Placement;

namespace Llama4Cluster.Silos.Placement;

/// <summary>Rejects values of <see cref="ExpertPlacementOptions"/> that are not defined, saying which are.</summary>
public sealed class ExpertPlacementOptionsValidator : IValidateOptions<ExpertPlacementOptions>
{
    public ValidateOptionsResult Validate(string? name, ExpertPlacementOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.ManifestWait < TimeSpan.Zero)
            return ValidateOptionsResult.Fail($"{ExpertPlacementOptions.SectionName}:{nameof(ExpertPlacementOptions.ManifestWait)} is {options.ManifestWait}; set it to zero or a positive time span such as 00:00:10");
        return Enum.IsDefined(options.WhenPlannedSiloMissing)
            ? ValidateOptionsResult.Success
            : ValidateOptionsResult.Fail(
                $"{ExpertPlacementOptions.SectionName}:{nameof(ExpertPlacementOptions.WhenPlannedSiloMissing)} is {(int)options.WhenPlannedSiloMissing}; " +
                $"set it to {nameof(PlannedSiloMissing.Fail)} or {nameof(PlannedSiloMissing.AnyCompatible)}");
    }
}
