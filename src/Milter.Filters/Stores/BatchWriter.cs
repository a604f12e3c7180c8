namespace Milter.Filters.Stores;

/// <summary>
/// Write-behind: callers add items and go on; one writer at a time takes everything queued so far
/// (up to <c>maxBatch</c>) and writes it in one go, so the more callers add at once, the fewer
/// transactions per item. With a gathering time, the writer first waits that long for more items
/// unless a whole batch is already queued. No thread waits while the queue is empty: the writer is
/// started by the add that finds none running and stops when it has emptied the queue.
/// </summary>
/// <typeparam name="T">One queued write.</typeparam>
internal sealed class BatchWriter<T>
{
    private readonly Func<List<T>, Task> _write;
    private readonly Action<Exception, int> _failed;
    private readonly int _maxBatch;
    private readonly TimeSpan _gather;
    private readonly TimeProvider _time;
    private readonly Queue<T> _queue = new();
    private readonly Lock _lock = new();
    private long _added;
    private long _written;
    private bool _running;
    private TaskCompletionSource _progress = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <param name="write">Writes one batch.</param>
    /// <param name="failed">Told when <paramref name="write"/> threw, with how many items were dropped; the writer goes on with the next batch.</param>
    /// <param name="maxBatch">Items per batch at most.</param>
    /// <param name="gather">How long the writer waits for more items before it takes a batch smaller than <paramref name="maxBatch"/>; zero: not at all.</param>
    /// <param name="time">The clock of <paramref name="gather"/>.</param>
    public BatchWriter(Func<List<T>, Task> write, Action<Exception, int> failed, int maxBatch, TimeSpan gather = default, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(write);
        ArgumentNullException.ThrowIfNull(failed);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxBatch, 1);
        _write = write;
        _failed = failed;
        _maxBatch = maxBatch;
        _gather = gather;
        _time = time ?? TimeProvider.System;
    }

    /// <summary>Items added and not yet written (or dropped).</summary>
    public int Queued
    {
        get
        {
            lock (_lock)
                return (int)(_added - _written);
        }
    }

    /// <summary>Queues <paramref name="item"/>; starts the writer on the thread pool if none is running.</summary>
    public void Add(T item)
    {
        lock (_lock)
        {
            _queue.Enqueue(item);
            _added++;
            if (_running)
                return;
            _running = true;
        }
        ThreadPool.UnsafeQueueUserWorkItem(static writer => _ = writer.RunAsync(), this, preferLocal: false);
    }

    /// <summary>Completes once everything added before this call has been written (or dropped after a failure).</summary>
    public Task WhenWrittenAsync(CancellationToken cancellationToken)
    {
        long target;
        lock (_lock)
        {
            target = _added;
            if (_written >= target)
                return Task.CompletedTask;
        }
        return WaitAsync(target, cancellationToken);
    }

    private async Task WaitAsync(long target, CancellationToken cancellationToken)
    {
        while (true)
        {
            Task progress;
            lock (_lock)
            {
                if (_written >= target)
                    return;
                progress = _progress.Task;
            }
            await progress.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task RunAsync()
    {
        while (true)
        {
            if (_gather > TimeSpan.Zero && Queued < _maxBatch)
                await Task.Delay(_gather, _time).ConfigureAwait(false);
            List<T> batch;
            lock (_lock)
            {
                if (_queue.Count == 0)
                {
                    _running = false;
                    return;
                }
                batch = new List<T>(Math.Min(_queue.Count, _maxBatch));
                while (batch.Count < _maxBatch && _queue.TryDequeue(out var item))
                    batch.Add(item);
            }
            try
            {
                await _write(batch).ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                _failed(ex, batch.Count);
            }
            finally
            {
                TaskCompletionSource progress;
                lock (_lock)
                {
                    _written += batch.Count;
                    progress = _progress;
                    _progress = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                }
                progress.SetResult();
            }
        }
    }
}
