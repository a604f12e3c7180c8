using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Milter.Filters.Configuration;
using Milter.Filters.Stores;

namespace Milter.Filters.Greylist;

/// <summary>
/// The write-behind of deferred attempts: a first attempt or an early retry is answered at once and
/// written with others a moment later (lost only if this process dies first, which costs the sender
/// one more delay). Until written, an attempt is seen by the checks of its triplet here. When a batch
/// fails, each later attempt is written before it is answered until the database takes writes again,
/// so that a failing database is answered per <c>on_error</c> (a sender deferred on an attempt that is
/// never recorded would be deferred forever).
/// </summary>
internal sealed class DeferralQueue
{
    // Deferred attempts written per transaction at most.
    private const int AttemptBatch = 256;

    private readonly StoreDatabase _database;
    private readonly StoreOptions _options;
    private readonly ILogger _logger;
    // Deferred attempts answered and queued for writing, by triplet: the latest one of each (reads see them).
    private readonly ConcurrentDictionary<Triplet, Attempt> _unwritten = new();
    private readonly BatchWriter<Attempt> _attempts;
    // The attempt writer's transaction size, kept from one batch to the next.
    private readonly ChunkSize _attemptChunks = new();
    // The last write of attempts failed: write each one before answering until the database takes writes again.
    private volatile bool _writesFailing;

    public DeferralQueue(StoreDatabase database, StoreOptions options, ILogger logger)
    {
        _database = database;
        _options = options;
        _logger = logger;
        _attempts = new BatchWriter<Attempt>(WriteAttemptsAsync, (ex, count) => StoreLog.AttemptsLost(logger, count, ex), AttemptBatch,
            options.AttemptGather, database.Time);
    }

    /// <summary>
    /// Records an answered deferral: queued, or (while writes fail) written now, which throws
    /// <see cref="StoreUnavailableException"/> when the database still refuses it.
    /// </summary>
    /// <param name="entry">The row the attempt leaves, as the check decided it.</param>
    public async Task AddAsync(Triplet triplet, DateTimeOffset at, GreylistOptions options, TripletEntry entry, CancellationToken cancellationToken)
    {
        var attempt = new Attempt(triplet, at, options, entry);
        if (_writesFailing)
        {
            await WriteDeferralsAsync([attempt], null, cancellationToken).ConfigureAwait(false);
            _writesFailing = false;
            return;
        }
        _unwritten[triplet] = attempt;
        _attempts.Add(attempt);
    }

    /// <summary>Waits for the writer while more than <see cref="StoreOptions.MaxQueuedAttempts"/> are queued.</summary>
    public Task ThrottleAsync(CancellationToken cancellationToken) =>
        _attempts.Queued > _options.MaxQueuedAttempts ? _attempts.WhenWrittenAsync(cancellationToken) : Task.CompletedTask;

    /// <summary>The row the triplet's latest attempt not yet written will leave; null when none waits.</summary>
    public TripletEntry? Unwritten(Triplet triplet) => _unwritten.TryGetValue(triplet, out var attempt) ? attempt.Entry : null;

    /// <summary>Completes once every attempt queued so far is in the database (or was lost to a failure, logged).</summary>
    public Task WhenWrittenAsync(CancellationToken cancellationToken) => _attempts.WhenWrittenAsync(cancellationToken);

    /// <summary>
    /// Writes queued attempts (see <see cref="WriteDeferralsAsync"/>). A failure is logged and the
    /// attempts not yet written dropped (their senders were answered and will be deferred once
    /// more), and later attempts are written before they are answered until the database takes
    /// writes again.
    /// </summary>
    private async Task WriteAttemptsAsync(List<Attempt> attempts)
    {
        var written = 0;
        try
        {
            if (_writesFailing)
            {
                // Queued before the failure was known. Writing them would make the attempts now written
                // one by one (and their sessions) wait behind another busy_timeout.
                StoreLog.AttemptsDropped(_logger, attempts.Count);
                return;
            }
            // In one order on every host (a stable sort keeps a triplet's attempts in the order they came):
            // two MX hosts' batches that lock the same rows in opposite orders deadlock on PostgreSQL,
            // and the victim's whole batch would be lost.
            var ordered = attempts.OrderBy(a => a.Triplet, Triplet.KeyOrder).ToList();
            await WriteDeferralsAsync(ordered, done => written = done, CancellationToken.None, _attemptChunks).ConfigureAwait(false);
            _writesFailing = false;
        }
        catch (StoreUnavailableException ex)
        {
            _writesFailing = true;
            StoreLog.AttemptsLost(_logger, attempts.Count - written, ex);
        }
        finally
        {
            foreach (var attempt in attempts)
                _unwritten.TryRemove(new KeyValuePair<Triplet, Attempt>(attempt.Triplet, attempt));
        }
    }

    /// <summary>
    /// Answered deferrals (see <see cref="DeferralRow"/>), in relaxed transactions that each hold the
    /// writer ~2 ms (<see cref="StoreDatabase.WriteInChunksAsync{T}"/>), so that a new pass, which is
    /// written before it is answered, never waits behind a whole burst of first attempts.
    /// </summary>
    private Task WriteDeferralsAsync(IReadOnlyList<Attempt> attempts, Action<int>? written, CancellationToken cancellationToken, ChunkSize? size = null) =>
        _database.WriteInChunksAsync(attempts, WriteDeferralAsync, written, cancellationToken, size);

    private async Task WriteDeferralAsync(StoreSession session, Attempt attempt, CancellationToken ct)
    {
        // Answered as new: most likely still without a row, so insert first and read only if one is there.
        var answered = attempt.Entry;
        if (answered.Deferrals == 1 && answered.FirstSeen == attempt.At
            && await GreylistRows.InsertTripletAsync(session, answered, ct).ConfigureAwait(false) > 0)
            return;
        await GreylistRows.WriteDecidedAsync(session, attempt.Triplet, row => DeferralRow(attempt, row), ct).ConfigureAwait(false);
    }

    /// <summary>
    /// The row an answered deferral leaves, given the row as it is now, which may differ from the row
    /// the answer was read from: another MX host may have recorded the triplet meanwhile (even a later
    /// attempt of it, written first), or a sweep removed it. The row ends as if the attempts had come
    /// in order: the earliest attempt is the first seen, each counts as a deferral. Null for an attempt
    /// that would pass now: nothing is written (its sender was deferred and will retry).
    /// </summary>
    private static TripletEntry? DeferralRow(Attempt attempt, TripletEntry? entry)
    {
        var (triplet, now, options, _) = attempt;
        // A later attempt was written first: this one becomes the first seen.
        if (entry is { State: TripletState.Pending } pending && now < pending.Expires && now < pending.FirstSeen)
            return pending with { FirstSeen = now, Expires = now + options.RetryWindow, Deferrals = pending.Deferrals + 1 };
        var evaluation = GreylistPolicy.Evaluate(triplet, entry, now, options);
        if (evaluation.Result.Action != GreylistAction.Defer)
            return null;
        return entry is not null && entry.LastSeen > now ? evaluation.Entry with { LastSeen = entry.LastSeen } : evaluation.Entry;
    }

    /// <summary>A deferred attempt, answered, waiting to be written; <c>Entry</c> is the row it will leave.</summary>
    private sealed record Attempt(Triplet Triplet, DateTimeOffset At, GreylistOptions Options, TripletEntry Entry)
    {
        // Compared by reference: the map entry is removed only by the write of this very attempt.
        public bool Equals(Attempt? other) => ReferenceEquals(this, other);

        public override int GetHashCode() => System.Runtime.CompilerServices.RuntimeHelpers.GetHashCode(this);
    }
}
