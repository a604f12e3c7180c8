using System.Collections.Frozen;
using Milter.Filters;
using Milter.Filters.Context;
using Milter.Filters.Stats;
using Milter.Filters.Stores;
using Prometheus;

namespace MilterHost.Status;

/// <summary>
/// The daemon's Prometheus metrics, in a registry of its own (no process-wide default): counters and
/// histograms updated as sessions run, and gauges read from their sources at each scrape, the
/// process's and its GC's among them (<see cref="ProcessMetrics"/>). Every name is listed with its
/// meaning in docs/status.md.
/// </summary>
internal sealed class DaemonMetrics : IStoreObserver
{
    /// <summary>The milter stages the latency histogram is labelled with, in protocol order.</summary>
    public static IReadOnlyList<string> Stages => DecisionStage.All;

    private static readonly double[] StageBuckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
    private static readonly double[] StoreBuckets = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

    private readonly Counter _sessions;
    private readonly Counter _messages;
    private readonly Counter _decisions;
    private readonly Histogram _stages;
    private readonly Histogram _store;
    private readonly FrozenDictionary<string, Histogram.Child> _stageChildren;
    private readonly Histogram.Child _storeReads;
    private readonly Histogram.Child _storeWrites;
    private readonly Counter _storeErrors;
    private readonly Counter _tallyDropped;
    private readonly Counter _tallyFolded;
    private readonly Gauge _connections;
    private readonly Gauge _generation;
    private readonly Gauge _triplets;
    private readonly Gauge _awlEntries;
    private readonly Gauge _awlWhitelisted;
    private readonly Gauge _allowEntries;
    private readonly Gauge _expiredRows;
    private readonly Counter _readsSkipped;
    private readonly Gauge _bans;
    private readonly Gauge _tables;

    public DaemonMetrics(string version)
    {
        Registry = Metrics.NewCustomRegistry();
        var f = Metrics.WithCustomRegistry(Registry);
        f.CreateGauge("milterhost_build_info", "Always 1; the label carries the milterhost version.", ["version"]).WithLabels(version).Set(1);
        _sessions = f.CreateCounter("milterhost_sessions_total", "SMTP sessions the MTA reported (milter CONNECT).");
        _messages = f.CreateCounter("milterhost_messages_total", "Messages started (MAIL FROM).");
        _decisions = f.CreateCounter("milterhost_decisions_total",
            "Final decisions by filter, verdict and mode (enforce, or monitor: computed and logged but not applied); a message every filter let through counts as filter \"-\", verdict \"accept\".",
            ["filter", "verdict", "mode"]);
        _stages = f.CreateHistogram("milterhost_stage_duration_seconds", "Time the filter chain took to answer one milter command, by stage.",
            ["stage"], new HistogramConfiguration { Buckets = StageBuckets });
        // Resolved once: a label lookup per milter command would cost more than the observation.
        _stageChildren = Stages.ToFrozenDictionary(stage => stage, stage => _stages.WithLabels(stage), StringComparer.Ordinal);
        _store = f.CreateHistogram("milterhost_store_operation_duration_seconds",
            "Time of one database unit of work (waiting for the connection included), by kind (read or write).",
            ["kind"], new HistogramConfiguration { Buckets = StoreBuckets });
        _storeErrors = f.CreateCounter("milterhost_store_errors_total", "Database units of work that failed (store unavailable), by kind.", ["kind"]);
        _storeReads = _store.WithLabels("read");
        _storeWrites = _store.WithLabels("write");
        foreach (var kind in (string[])["read", "write"])
            _storeErrors.WithLabels(kind);
        _tallyDropped = f.CreateCounter("milterhost_tally_dropped_total", "Decisions and greylist events not counted in the stats tally: the database kept failing, or too many distinct rows waited.");
        _tallyFolded = f.CreateCounter("milterhost_tally_folded_total",
            "Decisions counted in the stats tally without their network and sender domain (as '*'): more distinct rows waited than the tally holds (a flood).");
        _connections = f.CreateGauge("milterhost_connections_open", "Milter connections open now.");
        _generation = f.CreateGauge("milterhost_config_generation", "Configuration generation in use: 1 at start, one more per successful reload (SIGHUP).");
        _triplets = f.CreateGauge("milterhost_greylist_triplets", "Live greylist triplets by state (pending: waiting for the retry; passed).", ["state"]);
        _awlEntries = f.CreateGauge("milterhost_greylist_auto_whitelist_entries", "(client, sender domain) pairs with at least one passed triplet.");
        _awlWhitelisted = f.CreateGauge("milterhost_greylist_auto_whitelisted", "(client, sender domain) pairs auto-whitelisted now (auto_whitelist.after passes reached).");
        _allowEntries = f.CreateGauge("milterhost_greylist_allow_entries", "Entries of the admin greylist allow list.");
        _expiredRows = f.CreateGauge("milterhost_greylist_expired_rows", "Expired triplet and auto-whitelist rows waiting for the sweeper.");
        _readsSkipped = f.CreateCounter("milterhost_greylist_reads_skipped_total",
            "Greylist checks answered without reading the database: the key filter knew that neither the triplet nor its auto-whitelist entry exists (SQLite only).");
        _bans = f.CreateGauge("milterhost_dynamic_bans_active", "Dynamic bans in force now (admin, logscan, bypass ban).");
        _tables = f.CreateGauge("milterhost_status_scrape_store_ok", "1 when the last scrape could read the table sizes from the database, else 0.");
        Registry.AddBeforeCollectCallback(new ProcessMetrics(f).Update);
    }

    public CollectorRegistry Registry { get; }

    /// <summary>Reads the gauges from their sources before each scrape.</summary>
    public void Bind(StatusSources sources)
    {
        ArgumentNullException.ThrowIfNull(sources);
        Registry.AddBeforeCollectCallback(async cancellationToken =>
        {
            _connections.Set(sources.ActiveConnections());
            _generation.Set(sources.Generation());
            _tallyDropped.IncTo(sources.Stores.Tally.Dropped);
            _tallyFolded.IncTo(sources.Stores.Tally.FoldedDecisions);
            _readsSkipped.IncTo(sources.Stores.Greylist.SkippedReads);
            try
            {
                var now = sources.Time.GetUtcNow();
                var table = await sources.Stores.Greylist.Admin.StatsAsync(now, sources.Options().Greylist, cancellationToken).ConfigureAwait(false);
                var bans = await sources.Stores.Bans.ListAsync(now, cancellationToken).ConfigureAwait(false);
                _triplets.WithLabels("pending").Set(table.Pending);
                _triplets.WithLabels("passed").Set(table.Passed);
                _awlEntries.Set(table.AutoWhitelistEntries);
                _awlWhitelisted.Set(table.Whitelisted);
                _allowEntries.Set(table.Allowed);
                _expiredRows.Set(table.Expired);
                _bans.Set(bans.Count);
                _tables.Set(1);
            }
            catch (StoreUnavailableException)
            {
                // The store error counter has it; the gauges keep their last values.
                _tables.Set(0);
            }
        });
    }

    public void OnSession() => _sessions.Inc();

    public void OnMessage() => _messages.Inc();

    public void OnDecision(Decision decision) =>
        _decisions.WithLabels(decision.Filter ?? DecisionTally.NoFilter, DecisionTally.VerdictName(decision.Verdict.Kind), FilterModeNames.Of(decision)).Inc();

    public void OnAccepted() => _decisions.WithLabels(DecisionTally.NoFilter, "accept", FilterModeNames.Enforce).Inc();

    public void OnStage(string stage, TimeSpan elapsed) =>
        (_stageChildren.TryGetValue(stage, out var child) ? child : _stages.WithLabels(stage)).Observe(elapsed.TotalSeconds);

    public void OnOperation(bool write, TimeSpan elapsed, bool failed)
    {
        (write ? _storeWrites : _storeReads).Observe(elapsed.TotalSeconds);
        if (failed)
            _storeErrors.WithLabels(write ? "write" : "read").Inc();
    }

    /// <summary>Writes every metric in the Prometheus text format.</summary>
    public Task WriteAsync(Stream output, CancellationToken cancellationToken) => Registry.CollectAndExportAsTextAsync(output, cancellationToken);
}
