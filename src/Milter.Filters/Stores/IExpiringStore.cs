namespace Milter.Filters.Stores;

/// <summary>A store whose rows expire; swept in the background by <see cref="Greylist.GreylistSweeper"/>, never on the SMTP path.</summary>
public interface IExpiringStore
{
    /// <summary>Deletes at most <paramref name="batchSize"/> expired rows per table in one short transaction; returns how many went.</summary>
    Task<int> SweepAsync(DateTimeOffset now, int batchSize, CancellationToken cancellationToken);

    /// <summary>Writes out whatever the store deferred off the hot path (lifetime extensions of cache hits).</summary>
    Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
