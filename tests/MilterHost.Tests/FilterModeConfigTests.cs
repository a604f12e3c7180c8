using Microsoft.Extensions.Logging.Abstractions;
using Milter.Filters;
using Milter.Filters.Stores;
using MilterHost.Chain;
using MilterHost.Configuration;
using MilterHost.Hosting;

namespace MilterHost.Tests;

/// <summary><c>mode:</c> at the top level and in each filter's own section: what it means per filter, its errors and warnings.</summary>
public sealed class FilterModeConfigTests : IDisposable
{
    private const string Base = "local_domains: [example.com]\nrecipients: { reject_unknown: false }\n";
    private readonly ConfigDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Without_mode_every_filter_is_enforced()
    {
        var options = _dir.Load(Base, out _).Config!.Options;

        Assert.Equal(FilterMode.Enforce, options.Mode);
        Assert.All(options.Modes().Values, m => Assert.Equal(FilterMode.Enforce, m));
    }

    [Fact]
    public void The_top_level_mode_covers_every_filter_but_relay_control()
    {
        var config = _dir.Load(Base + "mode: monitor\n", out _).Config!;

        Assert.Equal(new Dictionary<string, FilterMode>
        {
            ["relay"] = FilterMode.Enforce, ["ban"] = FilterMode.Monitor, ["recipients"] = FilterMode.Monitor,
            ["dns_lists"] = FilterMode.Monitor, ["spf"] = FilterMode.Monitor, ["greylist"] = FilterMode.Monitor,
        }, config.Options.Modes());
        Assert.Empty(ConfigWarnings.Of(config));
    }

    [Fact]
    public void A_section_mode_wins_over_the_top_level_one_in_every_kind_of_section()
    {
        var config = _dir.Load("""
            mode: monitor
            recipients: { reject_unknown: false, mode: enforce }
            greylist:
              mode: enforce
              delay: 1m
            ban:
              mode: enforce
              rules:
                - sender: "*@spam.example"
            dns_lists:
              mode: monitor
              lists:
                - { zone: zen.example, action: reject }
            """, out _).Config!;
        var options = config.Options;

        Assert.Equal((FilterMode.Enforce, FilterMode.Enforce, FilterMode.Enforce, FilterMode.Monitor, FilterMode.Enforce),
            (options.ModeOf("recipients"), options.ModeOf("greylist"), options.ModeOf("ban"), options.ModeOf("dns_lists"), options.ModeOf("relay")));
        Assert.Equal(TimeSpan.FromMinutes(1), options.Greylist.Delay);
        Assert.Equal(["ban#1 (line 9)"], options.Ban.Select(r => r.Id));
        Assert.Equal(["zen.example"], options.DnsLists.Select(l => l.Zone));
    }

    [Fact]
    public void The_effective_configuration_prints_the_modes_and_reads_back_the_same()
    {
        var options = _dir.Load(Base + "mode: monitor\nrelay: { mode: monitor }\nban:\n  mode: enforce\n  rules:\n    - sender: \"*@spam.example\"\n", out _).Config!.Options;

        var yaml = EffectiveConfig.ToYaml(options);
        var again = _dir.Load(yaml, out _);

        Assert.True(again.Success, string.Join("\n", again.Errors));
        Assert.Equal(options.Modes(), again.Config!.Options.Modes());
        Assert.Contains("mode: monitor\n", yaml, StringComparison.Ordinal);
        Assert.Equal(options.Ban.Select(r => r.Pattern), again.Config.Options.Ban.Select(r => r.Pattern));
    }

    [Fact]
    public void A_bad_mode_is_an_error_at_its_value_wherever_it_is_written()
    {
        var errors = _dir.Errors("""
            mode: monitr
            relay:
              mode: watch
            ban:
              mode: off
              rulez: []
            greylist: { mode: [monitor] }
            """, out var path);

        Assert.Equal(
        [
            $"{path}:1:7: mode: expected enforce | monitor, got 'monitr' (did you mean 'monitor'?)",
            $"{path}:3:9: relay.mode: expected enforce | monitor, got 'watch'",
            $"{path}:5:9: ban.mode: expected enforce | monitor, got 'off'",
            $"{path}:6:3: unknown key 'rulez' in ban: write a list, or {{ mode: ..., rules: [...] }}",
            $"{path}:7:19: greylist.mode: expected enforce | monitor, got a list",
        ], errors);
    }

    [Fact]
    public void An_spf_section_that_the_filter_list_leaves_out_loads_with_a_warning_at_it()
    {
        var left = _dir.Load(Base + "spf: { reject_fail: true }\nfilters: [relay, ban, recipients, greylist]\n", out var path).Config!;
        var listed = _dir.Load(Base + "spf: { reject_fail: true }\n", out _).Config!;

        var warning = Assert.Single(ConfigWarnings.Of(left));
        Assert.StartsWith($"{path}:3:1: warning: spf: reject_fail or add_header is set, but filters: does not list spf", warning, StringComparison.Ordinal);
        Assert.Empty(ConfigWarnings.Of(listed));
    }

    [Fact]
    public void Relay_control_in_monitor_mode_loads_with_a_warning_at_its_mode()
    {
        var config = _dir.Load(Base + "relay:\n  mode: monitor\n", out var path).Config!;

        Assert.Equal(FilterMode.Monitor, config.Options.ModeOf("relay"));
        var warning = Assert.Single(ConfigWarnings.Of(config));
        Assert.StartsWith($"{path}:4:3: warning: relay.mode: monitor logs relaying it would refuse but refuses none", warning, StringComparison.Ordinal);
    }

    [Fact]
    public void A_plug_in_section_takes_mode_too_and_the_chain_runs_the_filter_in_it()
    {
        var setup = new MilterHostSetup(services => services.AddMilterFilter("max_recipients",
            new FilterSection<Limit>(() => new Limit()).Integer("max", 1, 1000, o => o.Max, (o, v) => o with { Max = v }),
            (_, _) => new NamedFilter("max_recipients")));
        var good = ConfigLoader.Parse(Base + "max_recipients: { max: 5, mode: monitor }\nfilters: [relay, max_recipients]\ngreylist: { enabled: false }\ndns: { servers: [\"127.0.0.1:9\"] }\n", "m.yaml", _dir.Path, catalog: setup.Catalog);
        var bad = ConfigLoader.Parse(Base + "max_recipients:\n  mode: maybe\n", "m.yaml", _dir.Path, catalog: setup.Catalog);

        Assert.True(good.Success, string.Join("\n", good.Errors));
        Assert.Equal(new Limit { Max = 5 }, good.Config!.Sections["max_recipients"]);
        Assert.Equal(FilterMode.Monitor, good.Config.Options.ModeOf("max_recipients"));
        Assert.Equal(["m.yaml:4:9: max_recipients.mode: expected enforce | monitor, got 'maybe'"], bad.Errors.Select(e => e.ToString()));

        var chain = new PolicyBuilder(new Simulation.ReadOnlyGreylistCheck(null!), null!, new Simulation.ReadOnlyDynamicBanStore(null!), new NoSink(), TimeProvider.System,
            NullLoggerFactory.Instance, setup.Catalog).BuildChain(good.Config);
        Assert.Equal([("relay", FilterMode.Enforce), ("max_recipients", FilterMode.Monitor)], chain.Filters.Select(f => (f.Name, chain.ModeOf(f))));
    }

    [Fact]
    public void Check_config_prints_a_plug_in_section_with_its_mode_and_defaults_and_the_print_loads_back_the_same()
    {
        var setup = new MilterHostSetup(services => services
            .AddMilterFilter("max_recipients",
                new FilterSection<Limit>(() => new Limit()).Integer("max", 1, 1000, o => o.Max, (o, v) => o with { Max = v }),
                (_, _) => new NamedFilter("max_recipients"))
            .AddMilterFilter("max_size",
                new FilterSection<Limit>(() => new Limit()).Integer("max", 1, 1000, o => o.Max, (o, v) => o with { Max = v }),
                (_, _) => new NamedFilter("max_size")));
        var config = ConfigLoader.Parse(Base + "max_recipients: { max: 5, mode: monitor }\n", "m.yaml", _dir.Path, catalog: setup.Catalog).Config!;

        var printed = EffectiveConfig.ToYaml(config, setup.Catalog);

        Assert.Contains("\nmax_recipients:\n  mode: monitor\n  max: 5\n", printed, StringComparison.Ordinal);
        // Not written: printed with its defaults, as every built-in section is.
        Assert.Contains("\nmax_size:\n  max: 100\n", printed, StringComparison.Ordinal);
        Assert.StartsWith(EffectiveConfig.ToYaml(config.Options), printed, StringComparison.Ordinal);
        var again = ConfigLoader.Parse(printed, "again.yaml", _dir.Path, catalog: setup.Catalog);
        Assert.True(again.Success, string.Join("\n", again.Errors));
        Assert.Equal(new Limit { Max = 5 }, again.Config!.Sections["max_recipients"]);
        Assert.Equal(new Limit(), again.Config.Sections["max_size"]);
        Assert.Equal(FilterMode.Monitor, again.Config.Options.ModeOf("max_recipients"));
        Assert.Equal(printed, EffectiveConfig.ToYaml(again.Config, setup.Catalog));
    }

    private sealed record Limit
    {
        public int Max { get; init; } = 100;
    }

    private sealed class NamedFilter(string name) : IMilterFilter
    {
        public string Name => name;

        public FilterNeeds Needs { get; } = new(Milter.Protocol.Negotiation.MilterStages.Rcpt, new Dictionary<Milter.Protocol.Negotiation.MacroStage, IReadOnlyList<string>>());
    }

    private sealed class NoSink : IDecisionSink
    {
        public void OnDecision(Milter.Filters.Context.SessionContext session, Decision decision) { }
    }
}
