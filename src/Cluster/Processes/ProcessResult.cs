namespace Llama4Cluster.Cluster.Processes;

/// <summary>A finished process: its exit code and what it wrote (<see cref="ChildProcess.RunAsync"/>).</summary>
public sealed record ProcessResult(int ExitCode, string Stdout, string Stderr);
