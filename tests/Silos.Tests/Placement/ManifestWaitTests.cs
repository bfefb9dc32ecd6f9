using System.Collections.Immutable;
using System.Net;
using Llama4Cluster.Cluster.Placement;
using Llama4Cluster.Silos.Placement;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Orleans.Metadata;
using Orleans.Runtime;
using Orleans.Runtime.Placement;

namespace Llama4Cluster.Silos.Tests.Placement;

/// <summary>
/// Placement right after a silo joins: the membership already lists it, this silo's cluster manifest (where the compatible
/// silos come from) does not yet. The director waits for the manifest instead of crowding a rank's stages onto the silos
/// it already knows.
/// </summary>
public sealed class ManifestWaitTests
{
    private static readonly SiloAddress[] Silos = [.. Enumerable.Range(0, 3).Select(i => SiloAddress.New(new IPEndPoint(IPAddress.Loopback, 13000 + i), 1))];

    [Fact]
    public async Task AStageWaitsForTheManifestOfASiloThatHasJustJoined()
    {
        var manifests = new FakeManifests(Silos[0], Silos[1]);
        var director = Director(manifests, TimeSpan.FromSeconds(30));
        var placing = Task.Run(() => PlaceStagesAsync(director, manifests));
        await Task.Delay(150);
        Assert.False(placing.IsCompleted, "placed before the third silo's manifest arrived");
        manifests.Add(Silos[2]);

        var placed = await placing.WaitAsync(TimeSpan.FromSeconds(20));
        Assert.Equal(3, placed.Distinct().Count());
    }

    [Fact]
    public async Task WithoutTheWait_TheStagesShareASilo_AndATimedOutWaitPlacesAnyway()
    {
        // The failure the wait prevents: three stages over the two silos known so far.
        var manifests = new FakeManifests(Silos[0], Silos[1]);
        var immediate = await PlaceStagesAsync(Director(manifests, TimeSpan.Zero), manifests);
        Assert.Equal(2, immediate.Distinct().Count());

        // A silo whose manifest never arrives costs the wait once per placement, never a failure.
        var bounded = await PlaceStagesAsync(Director(manifests, TimeSpan.FromMilliseconds(50)), manifests).WaitAsync(TimeSpan.FromSeconds(20));
        Assert.Equal(3, bounded.Length);
        Assert.All(bounded, s => Assert.Contains(s, Silos[..2]));

        var invalid = new ExpertPlacementOptionsValidator().Validate(null, new ExpertPlacementOptions { ManifestWait = TimeSpan.FromSeconds(-1) });
        Assert.True(invalid.Failed);
        Assert.Contains("ManifestWait", invalid.FailureMessage);
    }

    private static async Task<SiloAddress[]> PlaceStagesAsync(ExpertPlacementDirector director, FakeManifests manifests)
    {
        var context = new ManifestContext(Silos[0], manifests);
        var placed = new SiloAddress[3];
        for (int stage = 0; stage < 3; stage++)
        {
            var key = PlacementKey.ForAttentionStage(0, stage).ToString();
            placed[stage] = await director.OnAddActivation(ExpertPlacement.Singleton, new PlacementTarget(GrainId.Create("attentionstage", key), null!, default, 0), context);
        }
        return placed;
    }

    private static ExpertPlacementDirector Director(FakeManifests manifests, TimeSpan wait) =>
        new(new NoPlacementPlanProvider(), Options.Create(new ExpertPlacementOptions { ManifestWait = wait }), NullLogger<ExpertPlacementDirector>.Instance,
            membership: new FakeMembership(Silos), manifests: manifests);

    /// <summary>Compatible silos = the silos in the manifest, as Orleans' placement service computes them.</summary>
    private sealed class ManifestContext(SiloAddress local, FakeManifests manifests) : IPlacementContext
    {
        public SiloAddress LocalSilo => local;

        public SiloStatus LocalSiloStatus => SiloStatus.Active;

        public SiloAddress[] GetCompatibleSilos(PlacementTarget target) => [.. manifests.Current.Silos.Keys];

        public IReadOnlyDictionary<ushort, SiloAddress[]> GetCompatibleSilosWithVersions(PlacementTarget target) =>
            new Dictionary<ushort, SiloAddress[]> { [0] = GetCompatibleSilos(target) };
    }

    private sealed class FakeManifests(params SiloAddress[] known) : IClusterManifestProvider
    {
        private static readonly GrainManifest Empty = new(ImmutableDictionary<GrainType, GrainProperties>.Empty, ImmutableDictionary<GrainInterfaceType, GrainInterfaceProperties>.Empty);
        private volatile ClusterManifest _current = new(new MajorMinorVersion(1, 0), known.ToImmutableDictionary(s => s, _ => Empty));

        public ClusterManifest Current => _current;

        public IAsyncEnumerable<ClusterManifest> Updates => throw new NotSupportedException();

        public GrainManifest LocalGrainManifest => Empty;

        public void Add(SiloAddress silo) =>
            _current = new ClusterManifest(new MajorMinorVersion(_current.Version.Major + 1, 0), _current.Silos.Add(silo, Empty));
    }

    private sealed class FakeMembership(SiloAddress[] active) : IClusterMembershipService
    {
        public ClusterMembershipSnapshot CurrentSnapshot { get; } = new(
            active.ToImmutableDictionary(s => s, s => new ClusterMember(s, SiloStatus.Active, s.Endpoint.ToString())), new MembershipVersion(1));

        public IAsyncEnumerable<ClusterMembershipSnapshot> MembershipUpdates => throw new NotSupportedException();

        public ValueTask Refresh(MembershipVersion minimumVersion = default, CancellationToken cancellationToken = default) => ValueTask.CompletedTask;

        public Task<bool> TryKill(SiloAddress siloAddress) => Task.FromResult(false);
    }
}
