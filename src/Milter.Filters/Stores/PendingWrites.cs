namespace Milter.Filters.Stores;

/// <summary>
/// Store writes started in the background so that no session waits for them (bypass-ban strikes):
/// a clean stop waits for them before the stores close, so none is cut off half-way.
/// </summary>
public sealed class PendingWrites
{
    private readonly Lock _lock = new();
    private readonly HashSet<Task> _tasks = [];

    /// <summary>Writes still running.</summary>
    public int Count
    {
        get
        {
            lock (_lock)
                return _tasks.Count;
        }
    }

    /// <summary>Follows <paramref name="write"/> until it ends; it must not throw (log its failures itself).</summary>
    public void Track(Task write)
    {
        ArgumentNullException.ThrowIfNull(write);
        lock (_lock)
            _tasks.Add(write);
        _ = write.ContinueWith(t =>
        {
            lock (_lock)
                _tasks.Remove(t);
        }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    /// <summary>Completes when every write tracked so far has ended.</summary>
    public Task WhenAllAsync()
    {
        Task[] running;
        lock (_lock)
            running = [.. _tasks];
        return Task.WhenAll(running);
    }
}
