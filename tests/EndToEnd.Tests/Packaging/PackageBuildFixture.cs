using EndToEnd.Tests.Support;
using Milter.TestSupport;

namespace EndToEnd.Tests.Packaging;

/// <summary>
/// Builds the deb and the rpm once per test run (<c>packaging/test.sh build</c>: a native AOT
/// publish and both packages, a few minutes), for every test of <see cref="PackagingCollection"/>.
/// First installs, as root, the Debian packages the build and the checks use.
/// </summary>
public sealed class PackageBuildFixture : IAsyncLifetime
{
    /// <summary>
    /// The build and check tools: rpmbuild and rpm2cpio (rpm, cpio), dpkg-shlibdeps (dpkg-dev),
    /// the native AOT toolchain (gcc, zlib1g-dev), objdump (binutils), the SELinux policy
    /// Makefile (selinux-policy-dev), and sendmail with swaks for the installed daemon's check.
    /// </summary>
    public static readonly IReadOnlyList<string> RequiredPackages =
    [
        "rpm", "cpio", "dpkg-dev", "gcc", "zlib1g-dev", "binutils", "selinux-policy-dev",
        .. PrivateSendmail.RequiredPackages,
    ];

    private static readonly TimeSpan BuildTimeout = TimeSpan.FromMinutes(15);

    /// <summary>The build's output; a test that needs the packages fails with it when the build did.</summary>
    internal ToolResult Build { get; private set; } = new("packaging/test.sh build", -1, "", "not run");

    public async Task InitializeAsync()
    {
        AptPackages.EnsureInstalled([.. RequiredPackages]);
        Build = await PackagingScript.RunAsync("build", BuildTimeout);
    }

    public Task DisposeAsync() => Task.CompletedTask;
}
