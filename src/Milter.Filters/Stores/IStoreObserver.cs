namespace Milter.Filters.Stores;

/// <summary>Told of every unit of work on the database, for the metrics. Called on the caller's path: must be quick and must not throw.</summary>
public interface IStoreObserver
{
    /// <param name="write">A write transaction (else a read).</param>
    /// <param name="elapsed">From asking for a session (queueing for SQLite's one connection included) to the end.</param>
    /// <param name="failed">It ended in a <see cref="StoreUnavailableException"/>.</param>
    void OnOperation(bool write, TimeSpan elapsed, bool failed);
}
