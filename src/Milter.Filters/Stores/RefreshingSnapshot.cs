using Microsoft.Extensions.Logging;

namespace Milter.Filters.Stores;

/// <summary>
/// A small table held in memory (the dynamic ban list, the admin allow list). The first read loads
/// it; later reads return the copy at hand and, when it is older than the refresh period, start one
/// reload in the background, so the SMTP path never waits for the database after the start.
/// A failed background reload keeps the old copy and is logged.
/// </summary>
internal sealed class RefreshingSnapshot<T> where T : class
{
    private readonly Func<CancellationToken, Task<T>> _load;
    private readonly TimeProvider _time;
    private readonly TimeSpan _maxAge;
    private readonly ILogger _logger;
    private readonly string _what;
    private readonly Lock _lock = new();
    private T? _value;
    private long _loadedAt;
    private Task<T>? _loading;

    public RefreshingSnapshot(Func<CancellationToken, Task<T>> load, TimeProvider time, TimeSpan maxAge, ILogger logger, string what)
    {
        _load = load;
        _time = time;
        _maxAge = maxAge;
        _logger = logger;
        _what = what;
    }

    public ValueTask<T> GetAsync(CancellationToken cancellationToken)
    {
        T? value;
        Task<T>? refresh = null;
        lock (_lock)
        {
            value = _value;
            if (value is not null && _time.GetElapsedTime(_loadedAt) >= _maxAge && _loading is null)
                refresh = _loading = LoadAsync();
        }
        if (refresh is not null)
            _ = ObserveBackgroundAsync(refresh);
        return value is not null ? ValueTask.FromResult(value) : new ValueTask<T>(JoinLoadAsync(cancellationToken));
    }

    /// <summary>Reads the table again after a local write and waits for it: a load already running may predate the write, so it does not count.</summary>
    public async Task<T> ReloadAsync(CancellationToken cancellationToken)
    {
        Task<T>? previous;
        lock (_lock)
            previous = _loading;
        if (previous is not null)
        {
            try { await previous.WaitAsync(cancellationToken).ConfigureAwait(false); }
            catch (StoreUnavailableException) { }
        }
        return await JoinLoadAsync(cancellationToken).ConfigureAwait(false);
    }

    private Task<T> JoinLoadAsync(CancellationToken cancellationToken)
    {
        Task<T> loading;
        lock (_lock)
            loading = _loading ??= LoadAsync();
        return loading.WaitAsync(cancellationToken);
    }

    // Started under the lock: yield first, so the load never runs inside it.
    private async Task<T> LoadAsync()
    {
        await Task.Yield();
        var startedAt = _time.GetTimestamp();
        try
        {
            var value = await _load(CancellationToken.None).ConfigureAwait(false);
            lock (_lock)
            {
                _value = value;
                _loadedAt = startedAt;
            }
            return value;
        }
        catch
        {
            // Keep serving the old copy and try again one period later, not on every read.
            lock (_lock)
                _loadedAt = startedAt;
            throw;
        }
        finally
        {
            lock (_lock)
                _loading = null;
        }
    }

    private async Task ObserveBackgroundAsync(Task<T> loading)
    {
        try
        {
            await loading.ConfigureAwait(false);
        }
        catch (StoreUnavailableException ex)
        {
            StoreLog.SnapshotRefreshFailed(_logger, _what, ex);
        }
        catch (ObjectDisposedException)
        {
            // The store closed while the reload waited: nothing left to refresh.
        }
    }
}
