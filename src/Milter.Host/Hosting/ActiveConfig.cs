using Milter.Filters.Configuration;
using Milter.Protocol.Server;
using Milter.Protocol.Session;

namespace MilterHost.Hosting;

/// <summary>
/// One generation of the configuration, ready to serve: the options, the listener limits, and the
/// factory of per-connection handlers built from them. Swapped whole on SIGHUP; a connection keeps
/// the generation it started with.
/// </summary>
internal sealed record ActiveConfig(MilterOptions Options, string Path, int Generation, MilterServerOptions Server, Func<IMilterHandler> CreateHandler);
