using Milter.Filters.Configuration;
using MilterHost.Configuration;

namespace MilterHost.Tests;

/// <summary>examples/milterhost.yaml is what README tells people to run; it must always load.</summary>
public sealed class ExampleConfigTests
{
    private static readonly string ExamplePath = RepositoryRoot.Combine("examples", "milterhost.yaml");

    [Fact]
    public void Example_loads_without_errors()
    {
        var result = ConfigLoader.Load(ExamplePath);
        Assert.True(result.Success, string.Join("\n", result.Errors));
    }

    [Fact]
    public void Example_limits_are_the_defaults_it_says_they_are()
    {
        var result = ConfigLoader.Load(RepositoryRoot.Combine("examples", "milterhost.yaml"));
        Assert.True(result.Success, string.Join("\n", result.Errors));
        Assert.Equal(new Milter.Protocol.Session.MilterLimits(), result.Config.Options.Limits);
    }

    [Fact]
    public void Example_puts_socket_and_database_under_var_of_the_repository()
    {
        var config = ConfigLoader.Load(ExamplePath).Config!;
        Assert.Equal(RepositoryRoot.Combine("var", "milter.sock"), config.Listen.Path);
        Assert.Equal(DatabaseKind.Sqlite, config.Database.Kind);
        Assert.Equal(RepositoryRoot.Combine("var", "milterhost.db"), config.Database.Target);
    }

    [Fact]
    public void Example_runs_unprivileged_with_console_logging_only()
    {
        var o = ConfigLoader.Load(ExamplePath).Config!.Options;
        Assert.Null(o.User);
        Assert.False(o.Log.Syslog);
        Assert.Null(o.Log.File);
    }

    [Fact]
    public void Example_files_next_to_it_are_used()
    {
        var o = ConfigLoader.Load(ExamplePath).Config!.Options;
        Assert.Contains("file:" + RepositoryRoot.Combine("examples", "local-host-names"), o.LocalDomains);
        Assert.Contains("aliases:" + RepositoryRoot.Combine("examples", "aliases"), o.Recipients.Sources);
        Assert.Contains("virtusertable:" + RepositoryRoot.Combine("examples", "virtusertable"), o.Recipients.Sources);
    }

    [Fact]
    public void Example_has_greylisting_on_and_a_ban_rule_of_every_kind()
    {
        var o = ConfigLoader.Load(ExamplePath).Config!.Options;
        Assert.True(o.Greylist.Enabled);
        Assert.Equal(Enum.GetValues<BanKind>().Order(), o.Ban.Select(r => r.Kind).Distinct().Order());
        Assert.Contains(o.Ban, r => r.Action == BanAction.Discard);
        Assert.Contains(o.Ban, r => r.Action == BanAction.Tempfail && r.Reply!.StartsWith("450 4.7.1", StringComparison.Ordinal));
    }
}
