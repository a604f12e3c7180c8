using Microsoft.Extensions.Logging;
using Milter.Filters;
using Milter.Filters.Configuration;
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
/// shared stores, and the limits of the listener. Used at start and on every SIGHUP.
/// </summary>
internal sealed class PolicyBuilder(MilterStores stores, IDecisionSink decisions, TimeProvider time, ILoggerFactory loggers)
{
    public ActiveConfig Build(LoadedConfig config, int generation)
    {
        var options = config.Options;
        var baseDir = Path.GetDirectoryName(config.Path) ?? "/";
        var chain = BuildChain(options, baseDir);
        var server = ServerOptions(options);
        // Refusals by the ban and recipients filters count against a client that passed greylisting.
        IDecisionSink sink = options.Greylist.Enabled
            ? new BypassBanRecorder(decisions, stores.Greylist, options.Greylist, time, loggers.CreateLogger<BypassBanRecorder>())
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
        IReadOnlyList<IMilterFilter> greylist = options.Greylist.Enabled
            ? [new GreylistFilter(stores.Greylist, options, time, loggers.CreateLogger<GreylistFilter>())]
            : [];
        var inputs = new FilterChainInputs
        {
            LocalDomains = localDomains,
            DynamicBans = stores.Bans,
            Recipients = recipients,
            Greylist = greylist,
        };
        return new FilterChainFactory(time, loggers).Create(options, inputs);
    }

    public static MilterServerOptions ServerOptions(MilterOptions options) => new()
    {
        MaxConnections = options.Limits.MaxConnections,
        ShutdownGrace = options.Limits.ShutdownGrace,
        Session = new SessionOptions
        {
            MaxFrameSize = options.Limits.MaxFrameSize,
            IdleTimeout = options.Limits.IdleTimeout,
            StageTimeout = options.Limits.StageTimeout,
            FailureVerdict = options.OnError == OnError.Accept ? Verdict.Continue : Verdict.Tempfail(FilterChain.ErrorReply, FilterChain.OnErrorRule),
        },
    };
}
