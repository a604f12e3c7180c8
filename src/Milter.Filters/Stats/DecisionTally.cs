using System.Net.Sockets;
using System.Runtime.InteropServices;
using Dapper;
using Microsoft.Extensions.Logging;
using Milter.Filters.Context;
using Milter.Filters.Greylist;
using Milter.Filters.Stores;
using Milter.Protocol.Replies;

namespace Milter.Filters.Stats;

/// <summary>
/// The per-minute tally of decisions (minute, filter, verdict, rule, client /24 or /64, sender
/// domain; a decision of a filter in monitor mode under <c>monitor:VERDICT</c>) and of greylist events, behind <c>milterhost stats</c>, <c>/metrics</c> and the status
/// page. The session path only adds one to a count in memory; <see cref="FlushAsync"/> writes what
/// was counted in one transaction, run every few seconds by <see cref="RunAsync"/>. At most
/// <see cref="StoreOptions.TallyCapacity"/> rows wait: past that (a flood from many networks and
/// sender domains) a decision is counted in its minute, filter, verdict and rule without its
/// network and sender domain (<see cref="Folded"/>), so the totals stay exact. Rows older than
/// <see cref="Retention"/> go with the sweeper.
/// </summary>
public sealed class DecisionTally : IDecisionSink, IExpiringStore
{
    /// <summary>How long tally rows are kept.</summary>
    public static TimeSpan Retention { get; } = TimeSpan.FromDays(35);

    /// <summary>The filter and rule of a message every filter let through.</summary>
    public const string NoFilter = "-";

    private readonly StoreDatabase _database;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly int _capacity;
    private readonly Lock _lock = new();
    private readonly SemaphoreSlim _flushing = new(1, 1);
    // What was counted since the last flush, and the rows of a failed write put back (under _lock).
    private Dictionary<DecisionKey, long> _decisions = [];
    private Dictionary<GreylistKey, long> _greylist = [];
    private long _pending;
    private long _dropped;
    private long _droppedReported;
    private long _folded;
    private long _foldedReported;

    internal DecisionTally(StoreDatabase database, TimeProvider time, ILogger logger, int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        _database = database;
        _time = time;
        _logger = logger;
        _capacity = capacity;
    }

    /// <summary>
    /// The network and sender domain of decisions counted past <see cref="StoreOptions.TallyCapacity"/>
    /// distinct rows (a flood); <c>stats</c> leaves such rows out of its top lists.
    /// </summary>
    public const string Folded = "*";

    /// <summary>Decisions and events not counted: the database kept failing, or too many distinct greylist rows waited.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    /// <summary>Decisions counted without their network and sender domain because too many distinct rows waited.</summary>
    public long FoldedDecisions => Interlocked.Read(ref _folded);

    /// <summary>Decisions and events counted and not yet written.</summary>
    public long Pending => Interlocked.Read(ref _pending);

    /// <summary>A final decision of the chain: one more in its minute's row.</summary>
    public void OnDecision(SessionContext session, Decision decision)
    {
        ArgumentNullException.ThrowIfNull(session);
        ArgumentNullException.ThrowIfNull(decision);
        Count(Key(session, decision.Filter ?? NoFilter, VerdictOf(decision), decision.Rule ?? NoFilter));
    }

    /// <summary>The prefix of the verdict a decision not applied (monitor mode) is counted under: <c>monitor:reject</c>.</summary>
    public const string MonitorPrefix = FilterModeNames.Monitor + ":";

    /// <summary>
    /// The verdict a decision is counted under: its own (<c>reject</c>), or for one a filter in
    /// monitor mode did not apply, <c>monitor:reject</c>, so that <c>stats</c> and the top refused
    /// networks never count a message that was let through as refused.
    /// </summary>
    public static string VerdictOf(Decision decision)
    {
        ArgumentNullException.ThrowIfNull(decision);
        var name = VerdictName(decision.Verdict.Kind);
        return decision.Applied ? name : MonitorPrefix + name;
    }

    /// <summary>A message that every filter let through (end of message, no decision): counted as <c>accept</c> by filter <c>-</c>.</summary>
    public void OnAccepted(SessionContext session)
    {
        ArgumentNullException.ThrowIfNull(session);
        Count(Key(session, NoFilter, VerdictName(VerdictKind.Accept), NoFilter));
    }

    /// <summary>A greylist event at <paramref name="at"/>; <paramref name="delay"/> is the wait of a pass.</summary>
    internal void OnGreylist(GreylistEvent greylistEvent, DateTimeOffset at, TimeSpan delay)
    {
        var key = new GreylistKey(MinuteOf(at), greylistEvent, Math.Max(0, (long)delay.TotalSeconds));
        lock (_lock)
        {
            if (_greylist.Count + _decisions.Count >= _capacity && !_greylist.ContainsKey(key))
            {
                _dropped++;
                return;
            }
            Add(_greylist, key, 1);
            _pending++;
        }
    }

    /// <summary>The lowercase verdict name the tally and the log line use (<c>reject</c>, <c>tempfail</c>, ...).</summary>
    public static string VerdictName(VerdictKind kind) => kind switch
    {
        VerdictKind.Accept => "accept",
        VerdictKind.Reject => "reject",
        VerdictKind.Tempfail => "tempfail",
        VerdictKind.Discard => "discard",
        VerdictKind.Skip => "skip",
        _ => "continue",
    };

    /// <summary>The tally's network of a client: its /24, or its /64 for IPv6.</summary>
    public static string NetworkOf(System.Net.IPAddress? address)
    {
        if (address is null)
            return "";
        address = IPNetworks.Canonical(address);
        return IPNetworks.Containing(address, address.AddressFamily == AddressFamily.InterNetwork ? 24 : 64).ToString();
    }

    /// <summary>Unix seconds of the start of <paramref name="at"/>'s minute.</summary>
    public static long MinuteOf(DateTimeOffset at) => at.ToUnixTimeSeconds() / 60 * 60;

    /// <summary>
    /// Writes everything counted, in short relaxed transactions (<see cref="StoreDatabase.WriteInChunksAsync{T}"/>):
    /// a flood of distinct networks and sender domains makes thousands of rows, which in one
    /// transaction held the writer, and every new pass waiting for it, for hundreds of milliseconds.
    /// Relaxed: a power cut may lose the last seconds of counts, never a greylist decision. A failure
    /// puts back what was not written for the next call (bounded by the capacity).
    /// </summary>
    public async Task FlushAsync(CancellationToken cancellationToken)
    {
        await _flushing.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            Dictionary<DecisionKey, long> decisions;
            Dictionary<GreylistKey, long> greylist;
            lock (_lock)
            {
                (decisions, greylist) = (_decisions, _greylist);
                (_decisions, _greylist, _pending) = ([], [], 0);
            }
            ReportDrops();
            if (decisions.Count == 0 && greylist.Count == 0)
                return;
            // In one order on every host: two MX hosts whose transactions upsert the same rows in
            // opposite orders deadlock on PostgreSQL, and the victim's rows wait for the next flush.
            var decisionRows = decisions.OrderBy(r => r.Key).ToList();
            var greylistRows = greylist.OrderBy(r => r.Key).ToList();
            int decisionsDone = 0, greylistDone = 0;
            try
            {
                await _database.WriteInChunksAsync(decisionRows, static (session, row, ct) => WriteDecisionAsync(session, row.Key, row.Value, ct),
                    done => decisionsDone = done, cancellationToken).ConfigureAwait(false);
                await _database.WriteInChunksAsync(greylistRows, static (session, row, ct) => WriteGreylistAsync(session, row.Key, row.Value, ct),
                    done => greylistDone = done, cancellationToken).ConfigureAwait(false);
            }
            catch (StoreUnavailableException ex)
            {
                StatsLog.FlushFailed(_logger, decisionRows.Count - decisionsDone + greylistRows.Count - greylistDone, ex);
                PutBack(decisionRows.Skip(decisionsDone), greylistRows.Skip(greylistDone));
            }
            catch (OperationCanceledException)
            {
                // Stopped mid-way (the daemon's stop): what was taken out and not written waits for the final flush.
                PutBack(decisionRows.Skip(decisionsDone), greylistRows.Skip(greylistDone));
                throw;
            }
        }
        finally
        {
            _flushing.Release();
        }
    }

    // The rows of a failed write go back in with what was counted meanwhile, unless that would pass the capacity.
    private void PutBack(IEnumerable<KeyValuePair<DecisionKey, long>> decisions, IEnumerable<KeyValuePair<GreylistKey, long>> greylist)
    {
        var (d, g) = (decisions.ToList(), greylist.ToList());
        var pending = d.Sum(r => r.Value) + g.Sum(r => r.Value);
        lock (_lock)
        {
            if (d.Count + g.Count + _decisions.Count + _greylist.Count > _capacity)
            {
                _dropped += pending;
                return;
            }
            foreach (var (key, n) in d)
                Add(_decisions, key, n);
            foreach (var (key, n) in g)
                Add(_greylist, key, n);
            _pending += pending;
        }
    }

    /// <summary>Flushes every <paramref name="period"/> until cancelled, then once more; failures are logged, never thrown.</summary>
    public async Task RunAsync(TimeSpan period, CancellationToken cancellationToken)
    {
        try
        {
            while (true)
            {
                await Task.Delay(period, _time, cancellationToken).ConfigureAwait(false);
                await FlushAsync(cancellationToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            await FlushAsync(CancellationToken.None).ConfigureAwait(false);
        }
    }

    public async Task<int> SweepAsync(DateTimeOffset now, int batchSize, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        var before = MinuteOf(now - Retention);
        var total = 0;
        total += await _database.WriteAsync((session, ct) =>
            session.Connection.ExecuteAsync(StoreSql.SweepDecisionTally, new TallySweepArgs(before, batchSize, ct), commandTimeout: session.CommandTimeout), cancellationToken).ConfigureAwait(false);
        total += await _database.WriteAsync((session, ct) =>
            session.Connection.ExecuteAsync(StoreSql.SweepGreylistTally, new TallySweepArgs(before, batchSize, ct), commandTimeout: session.CommandTimeout), cancellationToken).ConfigureAwait(false);
        return total;
    }

    // ---- reading ---------------------------------------------------------------------------

    /// <summary>Decisions in [from, to) by filter, verdict and rule.</summary>
    public Task<IReadOnlyList<DecisionCount>> DecisionsAsync(DateTimeOffset from, DateTimeOffset to, CancellationToken cancellationToken) =>
        _database.RunAsync(async (session, ct) => StoreRows.List(await session.Connection.QueryAsync<DecisionCount>(
            StoreSql.DecisionsByFilter, Window(from, to, ct), commandTimeout: session.CommandTimeout).ConfigureAwait(false)), cancellationToken);

    /// <summary>The client networks refused (reject, tempfail, discard) most often in [from, to).</summary>
    public Task<IReadOnlyList<NamedCount>> TopRefusedNetworksAsync(DateTimeOffset from, DateTimeOffset to, int limit, CancellationToken cancellationToken) =>
        _database.RunAsync(async (session, ct) => StoreRows.List(await session.Connection.QueryAsync<NamedCount>(
            StoreSql.TopRefusedNetworks, Top(from, to, limit, ct), commandTimeout: session.CommandTimeout).ConfigureAwait(false)), cancellationToken);

    /// <summary>The sender domains refused most often in [from, to).</summary>
    public Task<IReadOnlyList<NamedCount>> TopRefusedSenderDomainsAsync(DateTimeOffset from, DateTimeOffset to, int limit, CancellationToken cancellationToken) =>
        _database.RunAsync(async (session, ct) => StoreRows.List(await session.Connection.QueryAsync<NamedCount>(
            StoreSql.TopRefusedDomains, Top(from, to, limit, ct), commandTimeout: session.CommandTimeout).ConfigureAwait(false)), cancellationToken);

    /// <summary>Decisions per hour and verdict in [from, to); hours without any are absent.</summary>
    public Task<IReadOnlyList<HourlyCount>> HourlyAsync(DateTimeOffset from, DateTimeOffset to, CancellationToken cancellationToken) =>
        _database.RunAsync(async (session, ct) =>
        {
            var rows = await session.Connection.QueryAsync<HourRow>(StoreSql.DecisionsByHour, Window(from, to, ct), commandTimeout: session.CommandTimeout).ConfigureAwait(false);
            return (IReadOnlyList<HourlyCount>)rows.Select(r => new HourlyCount(DateTimeOffset.FromUnixTimeSeconds(r.Hour), r.Verdict, r.Count)).ToList();
        }, cancellationToken);

    /// <summary>The greylist funnel of [from, to): events counted, and the median wait of the passes.</summary>
    public async Task<GreylistFunnel> GreylistFunnelAsync(DateTimeOffset from, DateTimeOffset to, CancellationToken cancellationToken)
    {
        var rows = await _database.RunAsync(async (session, ct) => StoreRows.List(await session.Connection.QueryAsync<GreylistEventRow>(
            StoreSql.GreylistEvents, Window(from, to, ct), commandTimeout: session.CommandTimeout).ConfigureAwait(false)), cancellationToken).ConfigureAwait(false);
        long Count(GreylistEvent e) => rows.Where(r => r.Event == GreylistEventNames.Of(e)).Sum(r => r.Count);
        var passes = rows.Where(r => r.Event == GreylistEventNames.Of(GreylistEvent.Passed)).OrderBy(r => r.Delay).ToList();
        return new GreylistFunnel(Count(GreylistEvent.FirstAttempt), Count(GreylistEvent.Retry), Count(GreylistEvent.Passed),
            Count(GreylistEvent.NeverRetried), Count(GreylistEvent.GaveUp), Median(passes.Select(p => (p.Delay, p.Count)).ToList()));
    }

    /// <summary>The median of a distribution given as (value, how often) sorted by value; the mean of the two middle ones for an even count.</summary>
    internal static double? Median(IReadOnlyList<(long Value, long Count)> sorted)
    {
        var total = sorted.Sum(s => s.Count);
        if (total == 0)
            return null;
        double ValueAt(long index)
        {
            foreach (var (value, count) in sorted)
            {
                if (index < count)
                    return value;
                index -= count;
            }
            throw new InvalidOperationException("index past the distribution");
        }
        return total % 2 == 1 ? ValueAt(total / 2) : (ValueAt(total / 2 - 1) + ValueAt(total / 2)) / 2;
    }

    /// <summary>Writes greylist tally rows on an open write transaction (the flush, and the sweeper's expired triplets).</summary>
    internal static async Task WriteGreylistAsync(StoreSession session, IReadOnlyDictionary<GreylistKey, long> rows, CancellationToken cancellationToken)
    {
        // In key order, as the flush writes them (see FlushAsync).
        foreach (var (key, n) in rows.OrderBy(r => r.Key))
            await WriteGreylistAsync(session, key, n, cancellationToken).ConfigureAwait(false);
    }

    private static Task<int> WriteGreylistAsync(StoreSession session, GreylistKey key, long n, CancellationToken cancellationToken) =>
        session.Connection.ExecuteAsync(StoreSql.AddGreylistTally,
            new GreylistTallyWrite(key.Minute, GreylistEventNames.Of(key.Event), key.Delay, n, cancellationToken), commandTimeout: session.CommandTimeout);

    private static Task<int> WriteDecisionAsync(StoreSession session, DecisionKey key, long n, CancellationToken cancellationToken) =>
        session.Connection.ExecuteAsync(StoreSql.AddDecisionTally, new DecisionTallyWrite(key, n, cancellationToken), commandTimeout: session.CommandTimeout);

    private static TallyWindowArgs Window(DateTimeOffset from, DateTimeOffset to, CancellationToken cancellationToken) =>
        new(MinuteOf(from), MinuteOf(to), cancellationToken);

    private static TallyTopArgs Top(DateTimeOffset from, DateTimeOffset to, int limit, CancellationToken cancellationToken) =>
        new(MinuteOf(from), MinuteOf(to), limit, cancellationToken);

    private DecisionKey Key(SessionContext session, string filter, string verdict, string rule)
    {
        var domain = session.Sender is { Length: > 0 } sender ? EnvelopeAddress.DomainOf(EnvelopeAddress.NormalizeSender(sender)) : "";
        return new DecisionKey(MinuteOf(_time.GetUtcNow()), filter, verdict, rule, NetworkOf(session.ClientAddress), domain);
    }

    private void Count(DecisionKey key)
    {
        lock (_lock)
        {
            if (_decisions.Count + _greylist.Count >= _capacity && !_decisions.ContainsKey(key))
            {
                key = key with { Network = Folded, SenderDomain = Folded };
                _folded++;
            }
            Add(_decisions, key, 1);
            _pending++;
        }
    }

    private void ReportDrops()
    {
        var dropped = Dropped;
        if (dropped != _droppedReported)
        {
            _droppedReported = dropped;
            StatsLog.Dropped(_logger, dropped);
        }
        var folded = FoldedDecisions;
        if (folded != _foldedReported)
        {
            _foldedReported = folded;
            StatsLog.Folded(_logger, _capacity, folded);
        }
    }

    private static void Add<TKey>(Dictionary<TKey, long> rows, TKey key, long n) where TKey : notnull =>
        CollectionsMarshal.GetValueRefOrAddDefault(rows, key, out _) += n;
}
