namespace Milter.Filters.Logging;

/// <summary>
/// Keeps a failing filter (usually its store being down) to one log line per burst rather than
/// one per recipient: the first failure is logged in full, later ones are counted and summarised
/// at most once per <c>quiet</c> period, and the first success after a burst says so once.
/// The success path costs one volatile read.
/// </summary>
internal sealed class FailureBurst(TimeProvider time, TimeSpan quiet)
{
    private readonly Lock _lock = new();
    private volatile bool _failing;
    private long _burstStarted;
    private long _lastReport;
    private int _unreported;
    private int _total;

    /// <summary>
    /// A failure happened. True when it should be logged in full; <paramref name="unreported"/> is the
    /// number of failures swallowed since the last full line.
    /// </summary>
    public bool OnFailure(out int unreported)
    {
        lock (_lock)
        {
            var now = time.GetTimestamp();
            _total++;
            if (!_failing)
            {
                _failing = true;
                _burstStarted = now;
                _lastReport = now;
                _unreported = 0;
                unreported = 0;
                return true;
            }
            if (time.GetElapsedTime(_lastReport, now) >= quiet)
            {
                unreported = _unreported;
                _unreported = 0;
                _lastReport = now;
                return true;
            }
            _unreported++;
            unreported = 0;
            return false;
        }
    }

    /// <summary>A call succeeded. True once after a burst, with the burst's size and length.</summary>
    public bool OnSuccess(out int failures, out TimeSpan lasted)
    {
        failures = 0;
        lasted = TimeSpan.Zero;
        if (!_failing)
            return false;
        lock (_lock)
        {
            if (!_failing)
                return false;
            _failing = false;
            failures = _total;
            lasted = time.GetElapsedTime(_burstStarted);
            _total = 0;
            _unreported = 0;
            return true;
        }
    }
}
