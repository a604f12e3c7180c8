using Microsoft.Extensions.Logging.Abstractions;
using Milter.Filters;
using Milter.Filters.Context;
using Milter.Filters.Stores;
using MilterHost.Configuration;
using MilterHost.Hosting;

namespace MilterHost.Tests;

/// <summary>How a configuration becomes the running chain: the greylist slot and the one DNS resolver.</summary>
public sealed class PolicyBuilderTests : IAsyncLifetime, IDisposable
{
    private readonly ConfigDirectory _dir = new();
    private MilterStores _stores = null!;

    public async Task InitializeAsync() =>
        _stores = await StoreFactory.OpenAsync("sqlite:" + Path.Combine(_dir.Path, "milterhost.db"), TimeProvider.System, null, new StoreOptions());

    public async Task DisposeAsync() => await _stores.DisposeAsync();

    public void Dispose() => _dir.Dispose();

    private PolicyBuilder Builder() => new(_stores, new NoSink(), TimeProvider.System, NullLoggerFactory.Instance);

    private LoadedConfig Config(string yaml) => _dir.Load("recipients: { reject_unknown: false }\n" + yaml, out _).Config!;

    [Fact]
    public void Dns_lists_come_before_the_greylist_in_its_slot()
    {
        var chain = Builder().BuildChain(Config("""
            dns: { servers: ["127.0.0.1:9"] }
            dns_lists:
              - { zone: bl.example }
            """));

        Assert.Equal(["relay", "ban", "dns_lists", "greylist"], chain.Filters.Select(f => f.Name));
    }

    [Fact]
    public void Without_dns_lists_or_greylisting_the_slot_is_empty()
    {
        var chain = Builder().BuildChain(Config("greylist: { enabled: false }\n"));

        Assert.Equal(["relay", "ban"], chain.Filters.Select(f => f.Name));
    }

    [Fact]
    public void A_reload_keeps_the_resolver_and_its_cache_until_the_dns_settings_change()
    {
        var builder = Builder();
        var first = Config("dns: { servers: [\"127.0.0.1:9\"], timeout: 1s }\n");
        var same = Config("dns: { servers: [\"127.0.0.1:9\"], timeout: 1s }\ngreylist: { delay: 5m }\n");
        var changed = Config("dns: { servers: [\"127.0.0.1:9\", \"[::1]:9\"], timeout: 1s }\n");

        builder.BuildChain(first);
        var resolver = builder.Resolver;
        builder.BuildChain(same);
        var kept = builder.Resolver;
        builder.BuildChain(changed);

        Assert.Same(resolver, kept);
        Assert.NotSame(resolver, builder.Resolver);
        Assert.Equal(["127.0.0.1:9", "[::1]:9"], builder.Resolver!.Servers.Select(s => s.ToString()));
        Assert.Equal(TimeSpan.FromSeconds(1), builder.Resolver.Timeout);
    }

    [Fact]
    public void A_failed_reload_leaves_the_running_resolver_the_one_the_next_build_reuses()
    {
        var builder = Builder();
        var running = Config("dns: { servers: [\"127.0.0.1:9\"], timeout: 1s }\n");
        builder.BuildChain(running);
        var resolver = builder.Resolver;
        // New DNS servers, and an aliases file that is gone by the time the filters are built (the
        // loader saw it; the recipients filter cannot read it): the reload fails after the resolver.
        var aliases = _dir.Write("aliases", "postmaster: root\n");
        var broken = _dir.Load($$"""
            recipients: { reject_unknown: true, sources: ["aliases:{{aliases}}"] }
            dns: { servers: ["127.0.0.1:9", "[::1]:9"], timeout: 1s }
            """, out _).Config!;
        File.Delete(aliases);

        Assert.Throws<IOException>(() => builder.BuildChain(broken));

        Assert.Same(resolver, builder.Resolver);
        builder.BuildChain(running);
        Assert.Same(resolver, builder.Resolver);
    }

    private sealed class NoSink : IDecisionSink
    {
        public void OnDecision(SessionContext session, Decision decision)
        {
        }
    }
}
