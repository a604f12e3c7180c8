using EndToEnd.Tests.Support;
using Milter.TestSupport;

namespace EndToEnd.Tests.Packaging;

/// <summary>
/// Builds the deb and the rpm once per test run (<c>packaging/test.sh build</c>: a self-contained
/// publish and both packages, about a minute), for every test of <see cref="PackagingCollection"/>.
/// </summary>
public sealed class PackageBuildFixture : IAsyncLifetime
{
    private static readonly TimeSpan BuildTimeout = TimeSpan.FromMinutes(5);

    /// <summary>The build's output; a test that needs the packages fails with it when the build did.</summary>
    internal ToolResult Build { get; private set; } = new("packaging/test.sh build", -1, "", "not run");

    /// <summary>
    /// What packaging/build.sh and test.sh need beyond the SDK: rpm (rpmbuild, rpm -qp), gcc and
    /// zlib1g-dev (the native AOT link), and the private sendmail of the daemon check.
    /// </summary>
    public static readonly IReadOnlyList<string> RequiredPackages = ["rpm", "gcc", "zlib1g-dev", .. PrivateSendmail.RequiredPackages];

    public async Task InitializeAsync()
    {
        AptPackages.EnsureInstalled([.. RequiredPackages]);
        Build = await PackagingScript.RunAsync("build", BuildTimeout);
    }

    public Task DisposeAsync() => Task.CompletedTask;
}
