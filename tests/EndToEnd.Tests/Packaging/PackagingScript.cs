using EndToEnd.Tests.Support;

namespace EndToEnd.Tests.Packaging;

/// <summary>Runs one check of <c>packaging/test.sh</c>, which prints an "ok" line per passed check and "FAIL: why" at the first failure.</summary>
internal static class PackagingScript
{
    public static Task<ToolResult> RunAsync(string check, TimeSpan timeout) =>
        Tool.RunAsync("bash", [Path.Combine(Repository.Root, "packaging", "test.sh"), check], timeout, workingDirectory: Repository.Root);
}
