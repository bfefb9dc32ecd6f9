using Llama4Cluster.Cli.Commands;
using Llama4Cluster.Cluster.Hosting;
using Llama4Cluster.Kernels.Checkpoints;

namespace Llama4Cluster.Cli;

/// <summary>The <c>llama4</c> command line.</summary>
internal static class Program
{
    private static readonly CliCommand[] Commands =
    [
        new("demo", DemoCommand.Usage, DemoCommand.Summary, DemoCommand.Options, DemoCommand.Run),
        new("create-tiny", CreateTinyCommand.Usage, CreateTinyCommand.Summary, CreateTinyCommand.Options, CreateTinyCommand.Run),
        new("logits", LogitsCommand.Usage, LogitsCommand.Summary, LogitsCommand.Options, LogitsCommand.Run),
        new("generate", GenerateCommand.Usage, GenerateCommand.Summary, GenerateCommand.Options, GenerateCommand.Run),
        new("plan", PlanCommand.Usage, PlanCommand.Summary, PlanCommand.Options, PlanCommand.Run),
        BenchCommand.Group,
        new("chaos", ChaosCommand.Usage, ChaosCommand.Summary, ChaosCommand.Options, ChaosCommand.Run),
    ];

    private static int Main(string[] args)
    {
        // Before any torch call: libgomp reads its wait policy once, when libtorch loads.
        Kernels.Runtime.NativeRuntimeSettings.ApplyBeforeTorch();
        AspNetCoreAssemblies.ResolveFromSharedFramework();
        if (args.Length == 0 || args[0] is "help" or "--help" or "-h" or "-?")
        {
            // Asked for: stdout and success. Missing a command: the same text on stderr and exit code 2.
            var output = args.Length == 0 ? Console.Error : Console.Out;
            output.WriteLine("usage: llama4 <command> [options]");
            foreach (var c in Commands.SelectMany(c => c.Subcommands.Count > 0 ? c.Subcommands : [c])) output.WriteLine("  llama4 " + c.Usage);
            output.WriteLine("llama4 <command> --help: what it does and its options; llama4 --version: the version");
            return args.Length == 0 ? 2 : 0;
        }
        if (args[0] is "--version")
        {
            Console.WriteLine("llama4 " + Version());
            return 0;
        }
        try
        {
            var (command, rest) = Find(args);
            if (CommandLineSyntax.WantsHelp(rest))
            {
                // A command's own help, whatever else the line holds (its required options need not be there).
                Console.Write(command.Help());
                return 0;
            }
            return command.Run(new Arguments(rest, command.Options));
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

    /// <summary>The command the line names (a group's subcommand when it names one) and the arguments after it.</summary>
    private static (CliCommand Command, string[] Tail) Find(string[] args)
    {
        var command = Commands.FirstOrDefault(c => c.Name == args[0])
            ?? throw new UsageException($"unknown command '{args[0]}' (commands: {string.Join(", ", Commands.Select(c => c.Name))})");
        if (command.Subcommands.Count == 0) return (command, args[1..]);
        if (args.Length >= 2 && command.Subcommands.FirstOrDefault(s => s.Name == args[1]) is { } sub) return (sub, args[2..]);
        if (CommandLineSyntax.WantsHelp(args[1..])) return (command, args[1..]);
        throw new UsageException($"{command.Name}: expected one of {string.Join(", ", command.Subcommands.Select(s => $"'{command.Name} {s.Name}'"))}" +
            (args.Length > 1 ? $"; got '{args[1]}'" : ""));
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
