using Microsoft.Extensions.Logging.Abstractions;
using Milter.Filters.Ban;
using Milter.Filters.Configuration;
using Milter.Filters.Recipients;
using Milter.Filters.Relay;
using MilterHost.Configuration;

namespace MilterHost.Tests;

/// <summary>
/// What check-config accepts, the filters can build, and what it refuses, they would refuse too:
/// otherwise a file that passed check-config could still stop the daemon at start or reload.
/// </summary>
public sealed class FilterAgreementTests
{
    private static readonly LoadedConfig Example = ConfigLoader.Load(RepositoryRoot.Combine("examples", "milterhost.yaml")).Config!;

    [Fact]
    public void Example_ban_rules_build_a_ban_filter()
    {
        var filter = new BanFilter(Example.Options.Ban, dynamicBans: null, TimeProvider.System);
        Assert.Equal("ban", filter.Name);
    }

    [Fact]
    public void Example_local_domains_load_with_the_file_next_to_it()
    {
        var domains = LocalDomains.Load(Example.Options.LocalDomains, "/");
        Assert.True(domains.Contains("example.com"));
        Assert.True(domains.Contains("shop.example.com"));
        Assert.True(domains.Contains("mail.example.org")); // from examples/local-host-names
        Assert.False(domains.Contains("example.org.evil.example"));
    }

    [Theory]
    [InlineData("webmaster@example.com", "aliases")]
    [InlineData("support@example.net", "virtusertable")]
    [InlineData("anyone@example.info", "virtusertable")]
    public void Example_recipient_sources_know_the_listed_recipients(string address, string source)
    {
        var directory = RecipientDirectory.Load(Example.Options.Recipients, "/", TimeProvider.System, NullLogger.Instance);
        Assert.Equal(RecipientLookup.KnownBy(source), directory.Lookup(RecipientAddress.Parse(address)));
    }

    [Theory]
    [InlineData("*@spammer.example")]
    [InlineData("@spammer.example")]
    [InlineData("<>")]
    [InlineData("/^bulk-.*@/i")]
    [InlineData("/(?<=x)y/")]
    [InlineData("User@Example.COM")]
    public void Address_patterns_accepted_here_are_accepted_by_the_filters(string pattern)
    {
        Assert.True(PatternSyntax.TryAddressPattern(pattern, out var error, out _), error);
        Assert.Equal(pattern, AddressPattern.Parse(pattern).Written);
    }

    [Theory]
    [InlineData("")]
    [InlineData("@")]
    [InlineData("/^bulk-.*@/q")]
    [InlineData("/no-close")]
    [InlineData("/(unclosed/")]
    [InlineData("//")]
    public void Address_patterns_refused_here_are_refused_by_the_filters(string pattern)
    {
        Assert.False(PatternSyntax.TryAddressPattern(pattern, out _, out _));
        Assert.Throws<FormatException>(() => AddressPattern.Parse(pattern));
    }

    [Theory]
    [InlineData(BanKind.Subject, "(?i)cheap meds")]
    [InlineData(BanKind.Subject, "/cheap\\s+meds/i")]
    [InlineData(BanKind.Subject, "(a)\\1")]
    [InlineData(BanKind.Client, "2001:db8::/32")]
    [InlineData(BanKind.Helo, "*.example.com")]
    public void Rules_that_load_build_a_ban_filter(BanKind kind, string pattern)
    {
        var rule = new BanRule { Kind = kind, Pattern = pattern };
        var printed = EffectiveConfig.ToYaml(new DaemonOptions { Ban = [rule] });
        var loaded = ConfigLoader.Parse(printed, "rules.yaml", "/");
        Assert.True(loaded.Success, string.Join("\n", loaded.Errors));
        Assert.Equal(pattern, Assert.Single(loaded.Config.Options.Ban).Pattern);
        var filter = new BanFilter(loaded.Config.Options.Ban, dynamicBans: null, TimeProvider.System);
        Assert.NotEqual(Milter.Protocol.Negotiation.MilterStages.None, filter.Needs.Stages);
    }
}
