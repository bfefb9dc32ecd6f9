using System.Globalization;

namespace Llama4Cluster.Cluster.Placement;

/// <summary>
/// Why a model does not fit: <see cref="What"/> needs <see cref="NeededBytes"/> where <see cref="AvailableBytes"/> are to be
/// had — the binding <see cref="Constraint"/> — with a hint of what would make it fit.
/// </summary>
public sealed record PlacementShortfall(string What, long NeededBytes, long AvailableBytes, string Hint)
{
    public PlacementConstraint Constraint { get; init; } = PlacementConstraint.TotalMemory;

    public string Message => string.Create(CultureInfo.InvariantCulture,
        $"does not fit: {What} needs {ByteSize.Format(NeededBytes)} > {ByteSize.Format(AvailableBytes)} available. {Hint}").TrimEnd();

    public override string ToString() => Message;
}
