namespace Llama4Cluster.Cluster.Hosting;

/// <summary>
/// One option of a command line: its name without the leading dashes, the placeholder of its value (<c>null</c> for a
/// switch such as <c>--json</c>), the line <c>--help</c> prints for it, and whether it may be given more than once
/// (<c>--image a.png --image b.png</c>).
/// </summary>
public sealed record CommandLineOption(string Name, string? Value, string Help, bool Repeatable = false)
{
    /// <summary>A switch: present or not (<c>--json</c>; <c>--json=false</c> turns it off).</summary>
    public static CommandLineOption Switch(string name, string help) => new(name, null, help);

    /// <summary>The option as typed: <c>--name</c>.</summary>
    public string Flag => "--" + Name;

    /// <summary>True for a switch, which takes no value.</summary>
    public bool IsSwitch => Value is null;
}
