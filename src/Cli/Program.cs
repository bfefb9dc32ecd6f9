using Llama4Cluster.Cli;
using Llama4Cluster.Cli.Commands;
using Llama4Cluster.Kernels.Checkpoints;

namespace Llama4Cluster.Cli;

/// <summary>The <c>llama4</c> command line.</summary>
internal static class Program
{
    private static readonly HashSet<string> Flags = ["json", "chat", "ignore-eos", "quick", "no-vision"];

    private static readonly (string Name, string Usage, Func<string[], int> Run)[] Commands =
    [
        ("demo", DemoCommand.Usage, a => DemoCommand.Run(new Arguments(a, Flags))),
        ("create-tiny", CreateTinyCommand.Usage, a => CreateTinyCommand.Run(new Arguments(a, Flags))),
        ("logits", LogitsCommand.Usage, a => LogitsCommand.Run(new Arguments(a, Flags))),
        ("generate", GenerateCommand.Usage, a => GenerateCommand.Run(new Arguments(a, Flags))),
        ("plan", PlanCommand.Usage, a => PlanCommand.Run(new Arguments(a, Flags))),
        ("bench", BenchCommand.Usage, BenchCommand.Run),
        ("chaos", ChaosCommand.Usage, a => ChaosCommand.Run(new Arguments(a, Flags))),
    ];

    private static int Main(string[] args)
    {
        // Before any torch call: libgomp reads its wait policy once, when libtorch loads.
        Kernels.Runtime.OpenMpSettings.PreferPassiveWaiting();
        AspNetCoreAssemblies.ResolveFromSharedFramework();
        if (args.Length == 0 || args[0] is "help" or "--help" or "-h")
        {
            // Asked for: stdout and success. Missing a command: the same text on stderr and exit code 2.
            var output = args.Length == 0 ? Console.Error : Console.Out;
            output.WriteLine("usage: llama4 <command> [options]");
            foreach (var c in Commands) output.WriteLine("  llama4 " + c.Usage);
            return args.Length == 0 ? 2 : 0;
        }
        if (args[0] is "--version")
        {
            Console.WriteLine("llama4 " + Version());
            return 0;
        }
        var command = Commands.FirstOrDefault(c => c.Name == args[0]);
        if (command.Name is not null && args.Skip(1).Any(a => a is "--help" or "-h"))
        {
            // A command's own help, whatever else the line holds (its required options need not be there).
            Console.WriteLine("usage: llama4 " + command.Usage);
            return 0;
        }
        try
        {
            if (command.Name is null)
                throw new UsageException($"unknown command '{args[0]}' (commands: {string.Join(", ", Commands.Select(c => c.Name))})");
            return command.Run(args[1..]);
        }
        catch (UsageException e)
        {
            Console.Error.WriteLine($"llama4: error: {e.Message}");
            return 2;
        }
        catch (ArgumentException e)
        {
            Console.Error.WriteLine($"llama4: error: {Flatten(e.Message)}");
            return 2;
        }
        catch (Exception e) when (e is CheckpointException or InvalidDataException or IOException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine($"llama4: error: {Flatten(e.Message)}");
            return 1;
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // Caught so that every using/finally runs (an ephemeral cluster's processes are killed) before exit.
            Console.Error.WriteLine($"llama4: error: {e.GetType().Name}: {Flatten(e.Message)}");
            return 1;
        }
    }

    private static string Flatten(string message) => message.ReplaceLineEndings(" ");

    /// <summary>The informational version the build stamps (without the source-revision suffix).</summary>
    private static string Version()
    {
        var assembly = typeof(Program).Assembly;
        string version = System.Reflection.CustomAttributeExtensions.GetCustomAttribute<System.Reflection.AssemblyInformationalVersionAttribute>(assembly)?.InformationalVersion
            ?? assembly.GetName().Version?.ToString() ?? "0.0.0";
        int plus = version.IndexOf('+', StringComparison.Ordinal);
        return plus < 0 ? version : version[..plus];
    }
}
