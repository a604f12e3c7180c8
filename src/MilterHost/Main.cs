using MilterHost.Chain;

namespace MilterHost;

/// <summary>The stock <c>milterhost</c> executable: the host (src/Milter.Host) with the built-in filters.</summary>
public static class Program
{
    public static Task<int> Main(string[] args) => MilterHostCli.RunAsync(args, MilterHostSetup.BuiltIn);
}
