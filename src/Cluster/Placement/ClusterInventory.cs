using System.Collections.Immutable;

namespace Llama4Cluster.Cluster.Placement;

/// <summary>The silos a plan may use, each with its role and devices.</summary>
[GenerateSerializer, Immutable, Alias("l4c.ClusterInventory")]
public sealed record ClusterInventory([property: Id(0)] ImmutableArray<SiloInventory> Silos)
{
    /// <summary>
    /// <paramref name="hosts"/> silos named <c>host-0</c>, <c>host-1</c>, … each with
    /// <paramref name="gpusPerHost"/> devices <c>cuda:0</c>… of <paramref name="gpuMemoryBytes"/> bytes.
    /// </summary>
    public static ClusterInventory Uniform(int hosts, int gpusPerHost, long gpuMemoryBytes, SiloRole role = SiloRole.All)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(hosts, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(gpusPerHost, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(gpuMemoryBytes, 1);
        var devices = Enumerable.Range(0, gpusPerHost).Select(g => new DeviceInventory($"cuda:{g}", gpuMemoryBytes)).ToImmutableArray();
        return new ClusterInventory(Enumerable.Range(0, hosts).Select(h => new SiloInventory($"host-{h}", null, role, devices)).ToImmutableArray());
    }

    public SiloInventory? Find(string siloName) => Silos.FirstOrDefault(s => s.Name == siloName);

    public int DeviceCount => Silos.Sum(s => s.Devices.Length);

    public long TotalMemoryBytes => Silos.Sum(s => s.Devices.Sum(d => d.MemoryBytes));

    /// <summary>Throws <see cref="ArgumentException"/> saying what to fix when the inventory cannot be planned on.</summary>
    public void Validate()
    {
        if (Silos.IsDefaultOrEmpty) throw new ArgumentException("the cluster inventory has no silos; add at least one silo with a device");
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var silo in Silos)
        {
            if (string.IsNullOrWhiteSpace(silo.Name)) throw new ArgumentException("every silo needs a name");
            if (!names.Add(silo.Name)) throw new ArgumentException($"silo name '{silo.Name}' appears twice; silo names must be unique");
            if (!Enum.IsDefined(silo.Role)) throw new ArgumentException($"silo '{silo.Name}': role {(int)silo.Role} is not expert, attention or all");
            if (silo.Devices.IsDefaultOrEmpty) throw new ArgumentException($"silo '{silo.Name}' has no devices; list at least cpu or one cuda:N");
            var devices = new HashSet<string>(StringComparer.Ordinal);
            foreach (var d in silo.Devices)
            {
                if (!IsDeviceName(d.Device))
                    throw new ArgumentException($"silo '{silo.Name}': device '{d.Device}' is not cpu or cuda:N");
                if (!devices.Add(d.Device)) throw new ArgumentException($"silo '{silo.Name}' lists device '{d.Device}' twice");
                if (d.MemoryBytes <= 0) throw new ArgumentException($"silo '{silo.Name}' device '{d.Device}': memory must be positive");
            }
        }
    }

    private static bool IsDeviceName(string device) =>
        device == "cpu" || (device.StartsWith("cuda:", StringComparison.Ordinal) && int.TryParse(device.AsSpan(5), out int n) && n >= 0);
}
