namespace MilterHost.Tests;

/// <summary>Files of the repository the tests run from (the example config, the built binary).</summary>
internal static class RepositoryRoot
{
    public static string Path { get; } = Find();

    public static string Combine(params string[] parts) => System.IO.Path.Combine([Path, .. parts]);

    private static string Find()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(System.IO.Path.Combine(dir.FullName, "Milter.sln")))
                return dir.FullName;
        }
        throw new InvalidOperationException($"no Milter.sln above {AppContext.BaseDirectory}");
    }
}
