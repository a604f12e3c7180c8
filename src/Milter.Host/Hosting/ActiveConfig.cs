using Milter.Filters.Configuration;
using Milter.Protocol.Server;
using Milter.Protocol.Session;
using MilterHost.Configuration;

namespace MilterHost.Hosting;

/// <summary>
/// One generation of the configuration, ready to serve: the options, the listener limits, and the
/// factory of per-connection handlers built from them. Swapped whole on SIGHUP; a connection keeps
/// the generation it started with.
/// </summary>
internal sealed record ActiveConfig(DaemonOptions Options, string Path, int Generation, SessionOptions Server, Func<IMilterHandler> CreateHandler);
