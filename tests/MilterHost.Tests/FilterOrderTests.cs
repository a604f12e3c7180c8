using System.CommandLine;
using Milter.Filters;
using MilterHost.Chain;
using MilterHost.Commands;
using MilterHost.Configuration;

namespace MilterHost.Tests;

/// <summary>The <c>filters:</c> key: names the executable knows, relay control left out only on purpose, DNS lists before the greylist.</summary>
public sealed class FilterOrderTests : IDisposable
{
    private readonly ConfigDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Without_the_key_the_chain_is_the_default_order()
    {
        var config = _dir.Load("recipients: { reject_unknown: false }\n", out _).Config!;

        Assert.Equal(["relay", "ban", "recipients", "dns_lists", "spf", "greylist"], config.Options.Filters);
        Assert.Same(FilterNames.Default, config.Options.Filters);
        Assert.Empty(config.Warnings);
    }

    [Fact]
    public void An_unknown_name_is_an_error_at_its_entry_with_a_suggestion()
    {
        var errors = _dir.Errors("""
            filters: [relay, bans, greylist]
            """, out var path);

        Assert.Equal([$"{path}:1:18: filters: no filter is named 'bans' (did you mean 'ban'?); this milterhost knows relay, ban, recipients, dns_lists, spf, greylist"], errors);
    }

    [Fact]
    public void A_name_listed_twice_is_an_error_at_the_second()
    {
        var errors = _dir.Errors("""
            filters:
              - relay
              - ban
              - ban
            """, out var path);

        Assert.Equal([$"{path}:4:5: filters: 'ban' is listed twice (first as entry 2)"], errors);
    }

    [Fact]
    public void Dns_lists_after_the_greylist_is_an_error()
    {
        var errors = _dir.Errors("""
            filters: [relay, greylist, dns_lists]
            """, out var path);

        Assert.Equal([$"{path}:1:28: filters: dns_lists must come before greylist, which reads their answers"], errors);
    }

    [Fact]
    public void Leaving_relay_out_needs_relay_enabled_false()
    {
        var errors = _dir.Errors("""
            filters: [ban, greylist]
            """, out var path);

        Assert.Equal([$"{path}:1:1: filters: relay is left out; to run without relay control write relay: {{ enabled: false }}"], errors);
    }

    [Fact]
    public void Relay_switched_off_explicitly_loads_with_a_warning()
    {
        var config = _dir.Load("""
            recipients: { reject_unknown: false }
            relay: { enabled: false }
            filters: [ban, greylist]
            """, out var path).Config!;

        Assert.Equal(["ban", "greylist"], config.Options.Filters);
        Assert.Equal([$"{path}:2:1: warning: relay control is off (relay.enabled: false): any client may send mail through this server to any domain"],
            config.Warnings.Select(w => w.ToString()));
        // The one list check-config prints and the daemon logs at start.
        Assert.Equal(config.Warnings.Select(w => w.ToString()), ConfigWarnings.Of(config));
    }

    [Fact]
    public void A_plug_in_filter_reads_its_own_section_with_positions_in_errors()
    {
        var setup = WithMaxRecipients();
        var good = ConfigLoader.Parse("recipients: { reject_unknown: false }\nmax_recipients: { max: 5 }\nfilters: [relay, max_recipients]\n",
            "m.yaml", _dir.Path, catalog: setup.Catalog);
        var bad = ConfigLoader.Parse("max_recipients:\n  max: 5000\n  mux: 3\n", "m.yaml", _dir.Path, catalog: setup.Catalog);
        var stock = ConfigLoader.Parse("max_recipients: { max: 5 }\n", "m.yaml", _dir.Path);

        Assert.True(good.Success);
        Assert.Equal(new Limit { Max = 5 }, good.Config!.Sections["max_recipients"]);
        Assert.Equal(["m.yaml:2:8: max_recipients.max: expected a whole number from 1 to 1000, got '5000'", "m.yaml:3:3: unknown key 'mux' in max_recipients (did you mean 'max'?)"],
            bad.Errors.Select(e => e.ToString()));
        Assert.Equal(["m.yaml:1:1: unknown key 'max_recipients'"], stock.Errors.Select(e => e.ToString()));
    }

    [Fact]
    public async Task The_admin_commands_of_an_executable_with_a_plug_in_accept_its_section()
    {
        var path = _dir.Write("milterhost.yaml", "database: sqlite:milterhost.db\nrecipients: { reject_unknown: false }\nmax_recipients: { max: 5 }\n");

        var (exit, stdout, stderr) = await CommandTests.Run(new RootCommand { BanCommand.Create(TimeProvider.System, WithMaxRecipients()) }, "ban", "list", "--config", path);
        var (stockExit, _, stockError) = await CommandTests.Run(new RootCommand { BanCommand.Create() }, "ban", "list", "--config", path);

        Assert.Equal((0, ""), (exit, stderr));
        Assert.Contains("no active bans", stdout, StringComparison.OrdinalIgnoreCase);
        Assert.Equal(1, stockExit);
        Assert.StartsWith($"{path}:3:1: unknown key 'max_recipients'", stockError, StringComparison.Ordinal);
    }

    private static MilterHostSetup WithMaxRecipients() => new(services => services.AddMilterFilter("max_recipients",
        new FilterSection<Limit>(() => new Limit()).Integer("max", 1, 1000, o => o.Max, (o, v) => o with { Max = v }),
        (_, _) => null));

    private sealed record Limit
    {
        public int Max { get; init; } = 100;
    }
}
