using System.Runtime.InteropServices;
using System.Runtime.Loader;

namespace Llama4Cluster.Cli;

/// <summary>
/// Lets llama4 resolve ASP.NET Core's assemblies from the shared framework without running on it. llama4 is no ASP.NET
/// Core application (Cli.csproj: that would drop package assemblies the silo host loads from llama4's folder), but every
/// Orleans client it starts reads the Orleans application parts of the projects it references, among them the Orleans
/// dashboard (aspire/Llama4Cluster.ServiceDefaults), whose types name ASP.NET Core MVC and routing types. Nothing of
/// ASP.NET Core runs here; only those names must resolve.
/// </summary>
internal static class AspNetCoreAssemblies
{
    /// <summary>Resolves <c>Microsoft.AspNetCore.*</c> (and the other assemblies of the shared framework that the default
    /// context does not find) from the newest installed <c>Microsoft.AspNetCore.App</c> of this runtime's major version.</summary>
    public static void ResolveFromSharedFramework()
    {
        var directory = FrameworkDirectory();
        if (directory is null) return;
        AssemblyLoadContext.Default.Resolving += (context, name) =>
        {
            string path = Path.Combine(directory, name.Name + ".dll");
            return File.Exists(path) ? context.LoadFromAssemblyPath(path) : null;
        };
    }

    private static string? FrameworkDirectory()
    {
        // RuntimeEnvironment's directory is .../shared/Microsoft.NETCore.App/<version>/; ASP.NET Core's sits beside it.
        var runtime = new DirectoryInfo(RuntimeEnvironment.GetRuntimeDirectory().TrimEnd(Path.DirectorySeparatorChar));
        var shared = runtime.Parent?.Parent;
        var aspNetCore = shared is null ? null : new DirectoryInfo(Path.Combine(shared.FullName, "Microsoft.AspNetCore.App"));
        if (aspNetCore is null || !aspNetCore.Exists) return null;
        int major = Environment.Version.Major;
        return aspNetCore.GetDirectories()
            .Select(d => (Directory: d.FullName, Version: Version.TryParse(d.Name.Split('-')[0], out var v) ? v : null))
            .Where(d => d.Version is not null && d.Version.Major == major)
            .OrderByDescending(d => d.Version)
            .Select(d => d.Directory)
            .FirstOrDefault();
    }
}
