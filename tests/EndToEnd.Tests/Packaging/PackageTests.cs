using EndToEnd.Tests.Support;

namespace EndToEnd.Tests.Packaging;

/// <summary>
/// The deb and rpm as built by packaging/build.sh, inspected with dpkg and rpm and installed on
/// this (root, Debian) machine; the checks themselves live in packaging/test.sh so a packager can
/// run them by hand.
/// </summary>
[Collection(PackagingCollection.Name)]
public sealed class PackageTests(PackageBuildFixture fixture)
{
    private static readonly TimeSpan CheckTimeout = TimeSpan.FromMinutes(2);

    [Fact]
    public void Both_packages_build_from_the_version_in_Directory_Build_props()
    {
        Assert.True(fixture.Build.ExitCode == 0, fixture.Build.ToString());
        var version = Version();
        Assert.Contains($"ok - built milterhost_{version}_amd64.deb and milterhost-{version}.x86_64.rpm", fixture.Build.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Deb_ships_the_layout_conffiles_and_maintainer_scripts()
    {
        var result = await RunCheckAsync("deb-layout");

        Assert.Contains("ok - deb conffiles", result, StringComparison.Ordinal);
        Assert.Contains("ok - deb scripts: user in preinst, enable without start, restart on upgrade, stop on remove, purge deletes", result, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Rpm_ships_the_same_layout_and_scripts_as_the_deb()
    {
        var result = await RunCheckAsync("rpm-layout");

        Assert.Contains("ok - rpm files and modes (same as the deb)", result, StringComparison.Ordinal);
        Assert.Contains("ok - rpm scriptlets present, valid sh, with the same shared functions as the deb", result, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Deb_installs_enabled_but_stopped_keeps_config_on_remove_and_purges_everything()
    {
        var result = await RunCheckAsync("install-cycle");

        Assert.Contains("ok - milterhost.service not started", result, StringComparison.Ordinal);
        Assert.Contains("ok - dpkg -r removed the program, kept config, database and user", result, StringComparison.Ordinal);
        Assert.Contains("ok - dpkg -P deleted config, data, the enablement and the user", result, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Installed_daemon_runs_as_its_user_and_filters_mail_behind_a_private_sendmail()
    {
        var result = await RunCheckAsync("daemon-cycle");

        Assert.Contains("ok - installed milterhost check-config accepts /etc/milterhost/milterhost.yaml", result, StringComparison.Ordinal);
        Assert.Contains("ok - socket", result, StringComparison.Ordinal);
        Assert.Contains("ok - a banned sender gets milterhost's 550 through sendmail", result, StringComparison.Ordinal);
        Assert.Contains("ok - milterhost stopped on SIGTERM and removed its socket", result, StringComparison.Ordinal);
    }

    private async Task<string> RunCheckAsync(string check)
    {
        Assert.True(fixture.Build.ExitCode == 0, "The packages did not build:\n" + fixture.Build);
        var result = await PackagingScript.RunAsync(check, CheckTimeout);
        Assert.True(result.ExitCode == 0, result.ToString());
        return result.Stdout;
    }

    private static string Version()
    {
        var props = File.ReadAllText(Path.Combine(Repository.Root, "Directory.Build.props"));
        var start = props.IndexOf("<VersionPrefix>", StringComparison.Ordinal) + "<VersionPrefix>".Length;
        return props[start..props.IndexOf("</VersionPrefix>", start, StringComparison.Ordinal)];
    }
}
