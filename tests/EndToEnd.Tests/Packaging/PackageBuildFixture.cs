using EndToEnd.Tests.Support;

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

    public async Task InitializeAsync() => Build = await PackagingScript.RunAsync("build", BuildTimeout);

    public Task DisposeAsync() => Task.CompletedTask;
}
