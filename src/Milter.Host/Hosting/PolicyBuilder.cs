using Microsoft.Extensions.Logging;
using Milter.Filters;
using Milter.Filters.Configuration;
using Milter.Filters.Dns;
using Milter.Filters.Ban;
using Milter.Filters.Greylist;
using Milter.Filters.Recipients;
using Milter.Filters.Relay;
using Milter.Filters.Stores;
using Milter.Protocol.Replies;
using Milter.Protocol.Server;
using Milter.Protocol.Session;
using MilterHost.Chain;
using MilterHost.Configuration;

namespace MilterHost.Hosting;

/// <summary>
/// Builds one generation of the running policy from a checked configuration: reads the files it
/// names (local-host-names, aliases, virtusertable), makes each filter <c>filters:</c> lists through
/// its registration in the <see cref="FilterCatalog"/>, in that order, on the shared stores, and the
/// limits of the listener. Used at start and on every SIGHUP, and by <c>simulate</c>, which passes
/// read-only stores unless told to record. It keeps the daemon's one DNS resolver (and its cache)
/// across reloads while <c>dns:</c> stays the same.
/// </summary>
internal sealed class PolicyBuilder(IGreylistCheck greylistStore, IBypassBanStore bypassBans, IDynamicBanStore banStore, IDecisionSink decisions, TimeProvider time, ILoggerFactory loggers,
    FilterCatalog? catalog = null, IServiceProvider? services = null, PendingWrites? pending = null)
{
    private readonly Lock _resolverLock = new();
    private readonly FilterCatalog _catalog = catalog ?? FilterCatalog.BuiltIn;
    private (DnsOptions Options, DnsResolver Resolver)? _resolver;

    /// <summary>The resolver the last chain was built with (for tests).</summary>
    internal DnsResolver? Resolver => _resolver?.Resolver;

    public PolicyBuilder(MilterStores stores, IDecisionSink decisions, TimeProvider time, ILoggerFactory loggers, FilterCatalog? catalog = null,
        IServiceProvider? services = null, PendingWrites? pending = null)
        : this(stores.Greylist.Check, stores.BypassBans, stores.Bans, decisions, time, loggers, catalog, services, pending) { }

    public ActiveConfig Build(LoadedConfig config, int generation)
    {
        var options = config.Options;
        var chain = BuildChain(config);
        var server = ServerOptions(options);
        // Refusals by the ban and recipients filters count against a client that passed greylisting.
        IDecisionSink sink = options.Greylist.Enabled && options.Filters.Contains(FilterNames.Greylist)
            ? new BypassBanRecorder(decisions, bypassBans, options, time, loggers.CreateLogger<BypassBanRecorder>(), pending)
            : decisions;
        return new ActiveConfig(options, config.Path, generation, server, () => new ChainHandler(chain, sink));
    }

    /// <summary>The filter chain for <paramref name="config"/>; also what <c>simulate</c> runs.</summary>
    /// <exception cref="InvalidOperationException"><c>filters:</c> names a filter the catalog does not know (the loader checks this first).</exception>
    public FilterChain BuildChain(LoadedConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        var options = config.Options;
        // The DNS lists and SPF for the spf filter are looked up only when their filter runs.
        var dnsOptions = options.Filters.Contains(FilterNames.DnsLists) ? options : options with { DnsLists = [] };
        if (!options.Filters.Contains(FilterNames.Spf))
            dnsOptions = dnsOptions with { Spf = new SpfOptions() };
        // A resolver made for this build is kept only once the build succeeds: a reload that fails
        // (a file a filter cannot read) must leave the running chain's resolver, and its cache, the
        // one the next build reuses, and must not leave a resolver of its own behind undisposed.
        var (resolver, made) = ResolverFor(options.Dns);
        try
        {
            var context = new FilterBuildContext
            {
                Services = services ?? EmptyServices.Instance,
                BaseDirectory = Path.GetDirectoryName(config.Path) ?? "/",
                LocalDomains = LocalDomains.Load(options.LocalDomains, Path.GetDirectoryName(config.Path) ?? "/"),
                TrustedClients = options.Relay.AllowClients,
                Greylist = greylistStore,
                Bans = banStore,
                Dns = new DnsChecks(resolver, dnsOptions, time, loggers.CreateLogger<DnsChecks>()),
                Time = time,
                Loggers = loggers,
            };
            // Made here, not lazily inside the chain, so that a factory that throws is inside this try.
            var filters = options.Filters
                .Select(name => (_catalog.Find(name) ?? throw new InvalidOperationException($"filters: no filter is named '{name}'")).Create(context, config))
                .OfType<IMilterFilter>()
                .ToList();
            var chain = new FilterChain(filters, options.OnError, loggers.CreateLogger<FilterChain>(), time, options.Modes());
            if (made)
            {
                lock (_resolverLock)
                    _resolver = (options.Dns, resolver);
            }
            return chain;
        }
        catch
        {
            if (made)
                resolver.Dispose();
            throw;
        }
    }

    /// <summary>For a build without a host: no services.</summary>
    private sealed class EmptyServices : IServiceProvider
    {
        public static readonly EmptyServices Instance = new();

        public object? GetService(Type serviceType) => null;
    }

    /// <summary>
    /// The resolver for <paramref name="options"/>: the current one while servers and timeout are
    /// unchanged, so its cache outlives a reload; else a new one (<c>Made</c>), which the caller keeps
    /// in place of the current one once its build succeeds. A replaced resolver is left to the
    /// sessions still using it.
    /// </summary>
    private (DnsResolver Resolver, bool Made) ResolverFor(DnsOptions options)
    {
        lock (_resolverLock)
        {
            if (_resolver is { } current && current.Options.Timeout == options.Timeout && current.Options.Servers.SequenceEqual(options.Servers))
                return (current.Resolver, false);
        }
        return (DnsResolver.Create(options, time), true);
    }

    /// <summary>
    /// Header bytes per message before a connection is closed as hostile: far above what sendmail
    /// (MaxHeadersLength, 32 KiB by default) or Postfix (header_size_limit, 100 KiB) ever pass on.
    /// </summary>
    public const long MaxHeaderBytes = 4 * 1024 * 1024;

    public static SessionOptions ServerOptions(MilterOptions options) => new()
    {
        Limits = options.Limits with { MaxHeaderBytes = MaxHeaderBytes },
        FailureVerdict = options.OnError == OnError.Accept ? Verdict.Continue : FailureReply.Tempfail,
    };
}
