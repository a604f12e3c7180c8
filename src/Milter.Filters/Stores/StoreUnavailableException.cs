namespace Milter.Filters.Stores;

/// <summary>
/// The store could not answer (database unreachable, locked too long, disk full, schema too new).
/// Wraps the provider's exception so the chain can answer per <c>on_error</c> without knowing
/// which database is behind the store.
/// </summary>
public sealed class StoreUnavailableException : Exception
{
    public StoreUnavailableException(string message) : base(message) { }

    public StoreUnavailableException(string message, Exception innerException) : base(message, innerException) { }

    public StoreUnavailableException() : base("the store is unavailable") { }
}
