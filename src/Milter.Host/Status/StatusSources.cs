using Milter.Filters.Configuration;
using Milter.Filters.Stores;
using MilterHost.Configuration;

namespace MilterHost.Status;

/// <summary>Where the status listener reads from: the stores, the current configuration, and the daemon's live counts.</summary>
internal sealed record StatusSources(
    MilterStores Stores,
    Func<DaemonOptions> Options,
    Func<int> Generation,
    Func<int> ActiveConnections,
    DaemonMetrics Metrics,
    RecentDecisions Recent,
    TimeProvider Time,
    string Version);
