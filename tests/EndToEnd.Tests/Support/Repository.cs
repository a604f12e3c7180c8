namespace EndToEnd.Tests.Support;

/// <summary>The checkout the tests run from, found by walking up to Milter.sln.</summary>
internal static class Repository
{
    public static string Root { get; } = FindRoot();

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Milter.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"No Milter.sln above {AppContext.BaseDirectory}: run the tests from the repository.");
    }
}
