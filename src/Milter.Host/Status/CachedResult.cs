namespace MilterHost.Status;

/// <summary>
/// A value computed at most once per <c>lifetime</c> (read on <see cref="TimeProvider"/>), shared by
/// the requests that want it meanwhile; requests that come while it is being computed wait for that
/// one computation. A failed or cancelled computation is not kept.
/// </summary>
internal sealed class CachedResult<T>(Func<CancellationToken, Task<T>> compute, TimeProvider time, TimeSpan lifetime, CancellationToken stopping)
{
    private readonly Lock _lock = new();
    private Task<T>? _current;
    private DateTimeOffset _started;

    /// <summary>The kept value while it is younger than the lifetime, else a new computation's.</summary>
    public Task<T> GetAsync(CancellationToken cancellationToken)
    {
        Task<T> current;
        lock (_lock)
        {
            var now = time.GetUtcNow();
            if (_current is null || _current.IsFaulted || _current.IsCanceled || (_current.IsCompleted && now - _started >= lifetime))
            {
                _started = now;
                // Not the request's token: one reader hanging up must not fail the others waiting for it.
                _current = Task.Run(() => compute(stopping), stopping);
            }
            current = _current;
        }
        return current.WaitAsync(cancellationToken);
    }
}
