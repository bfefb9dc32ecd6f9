namespace Llama4Cluster.Cli;

internal static class Program
{
    private static int Main(string[] args)
    {
        Console.Error.WriteLine("llama4: no commands yet");
        return 2;
    }
}
