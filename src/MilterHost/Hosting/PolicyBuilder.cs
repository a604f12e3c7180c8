using Microsoft.Extensions.Logging;
using Milter.Filters;
using Milter.Filters.Configuration;
using Milter.Filters.Dns;
using Milter.Filters.Greylist;
using Milter.Filters.Recipients;
using Milter.Filters.Relay;
using Milter.Filters.Stores;
using Milter.Protocol.Replies;
using Milter.Protocol.Server;
using Milter.Protocol.Session;
using MilterHost.Configuration;

namespace MilterHost.Hosting;

/// <summary>
/// Builds one generation of the running policy from a checked configuration: reads the files it
/// names (local-host-names, aliases, virtusertable), makes the filters in design.md's order on the
/// shared stores, and the limits of the listener. Used at start and on every SIGHUP, and by
/// <c>simulate</c>, which passes read-only stores unless told to record. It keeps the daemon's one
/// DNS resolver (and its cache) across reloads while <c>dns:</c> stays the same.
/// </summary>
internal sealed class PolicyBuilder(IGreylistStore greylistStore, IDynamicBanStore banStore, IDecisionSink decisions, TimeProvider time, ILoggerFactory loggers)
{
    private readonly Lock _resolverLock = new();
    private (DnsOptions Options, DnsResolver Resolver)? _resolver;

    /// <summary>The resolver the last chain was built with (for tests).</summary>
    internal DnsResolver? Resolver => _resolver?.Resolver;

    public PolicyBuilder(MilterStores stores, IDecisionSink decisions, TimeProvider time, ILoggerFactory loggers)
        : this(stores.Greylist, stores.Bans, decisions, time, loggers) { }

    public ActiveConfig Build(LoadedConfig config, int generation)
    {
        var options = config.Options;
        var baseDir = Path.GetDirectoryName(config.Path) ?? "/";
        var chain = BuildChain(options, baseDir);
        var server = ServerOptions(options);
        // Refusals by the ban and recipients filters count against a client that passed greylisting.
        IDecisionSink sink = options.Greylist.Enabled
            ? new BypassBanRecorder(decisions, greylistStore, options, time, loggers.CreateLogger<BypassBanRecorder>())
            : decisions;
        return new ActiveConfig(options, config.Path, generation, server, () => new ChainHandler(chain, sink));
    }

    /// <summary>The filter chain for <paramref name="options"/>; also what <c>simulate</c> runs.</summary>
    public FilterChain BuildChain(MilterOptions options, string baseDir)
    {
        var localDomains = LocalDomains.Load(options.LocalDomains, baseDir);
        var recipients = options.Recipients.RejectUnknown
            ? RecipientDirectory.Load(options.Recipients, baseDir, time, loggers.CreateLogger<RecipientDirectory>())
            : null;
        var dns = new DnsChecks(ResolverFor(options.Dns), options, time, loggers.CreateLogger<DnsChecks>());
        // The greylist slot, in order: the DNS lists answer at RCPT before the greylist, which reads their verdict.
        var greylist = new List<IMilterFilter>();
        if (dns.Lists.Count > 0)
            greylist.Add(new DnsListFilter(dns));
        if (options.Greylist.Enabled)
            greylist.Add(new GreylistFilter(greylistStore, options, dns, time, loggers.CreateLogger<GreylistFilter>()));
        var inputs = new FilterChainInputs
        {
            LocalDomains = localDomains,
            DynamicBans = banStore,
            Recipients = recipients,
            Greylist = greylist,
        };
        return new FilterChainFactory(time, loggers).Create(options, inputs);
    }

    /// <summary>
    /// The resolver for <paramref name="options"/>: the current one while servers and timeout are
    /// unchanged, so its cache outlives a reload. A replaced resolver is left to the sessions still using it.
    /// </summary>
    private DnsResolver ResolverFor(DnsOptions options)
    {
        lock (_resolverLock)
        {
            if (_resolver is { } current && current.Options.Timeout == options.Timeout && current.Options.Servers.SequenceEqual(options.Servers))
                return current.Resolver;
            var resolver = DnsResolver.Create(options, time);
            _resolver = (options, resolver);
            return resolver;
        }
    }

    /// <summary>
    /// Header bytes per message before a connection is closed as hostile: far above what sendmail
    /// (MaxHeadersLength, 32 KiB by default) or Postfix (header_size_limit, 100 KiB) ever pass on.
    /// </summary>
    public const long MaxHeaderBytes = 4 * 1024 * 1024;

    public static MilterServerOptions ServerOptions(MilterOptions options) => new()
    {
        MaxConnections = options.Limits.MaxConnections,
        ShutdownGrace = options.Limits.ShutdownGrace,
        Session = new SessionOptions
        {
            MaxFrameSize = options.Limits.MaxFrameSize,
            IdleTimeout = options.Limits.IdleTimeout,
            StageTimeout = options.Limits.StageTimeout,
            MaxHeaderBytes = MaxHeaderBytes,
            FailureVerdict = options.OnError == OnError.Accept ? Verdict.Continue : Verdict.Tempfail(FilterChain.ErrorReply, FilterChain.OnErrorRule),
        },
    };
}
