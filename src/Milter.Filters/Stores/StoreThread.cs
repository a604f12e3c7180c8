namespace Milter.Filters.Stores;

/// <summary>
/// A thread of its own that runs the work posted to it one item after another: for a store's calls
/// that block (SQLite's, and the disk's fsync under a commit or a checkpoint). A thread-pool worker
/// blocked in such a call counts as working, so the pool, whose goal is one worker per core, wakes no
/// other, and the work queued behind it (a session that gave its socket thread up, the accept loop)
/// waits as long as the disk does.
/// </summary>
internal sealed class StoreThread
{
    private readonly Queue<Action> _queue = new();
    private readonly string _name;
    private readonly Task _ended;
    private bool _closed;

    public StoreThread(string name)
    {
        _name = name;
        _ended = Start(name, Run);
    }

    /// <summary>
    /// Runs <paramref name="body"/> on a new background thread named <paramref name="name"/> (named
    /// before it starts: the native build passes no later rename on to the system thread that
    /// <c>top -H</c> and <c>/proc/PID/task/*/comm</c> show, 15 characters of it); the task ends with it.
    /// </summary>
    public static Task Start(string name, Action body)
    {
        ArgumentNullException.ThrowIfNull(body);
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        new Thread(() =>
        {
            try
            {
                body();
                done.SetResult();
            }
            catch (Exception ex)
            {
                done.SetException(ex);
            }
        })
        { IsBackground = true, Name = name }.Start();
        return done.Task;
    }

    /// <summary>
    /// Runs <paramref name="work"/> on this thread after everything posted before it, waiting there for
    /// whatever of it does not complete at once. The caller's continuation runs on the thread pool, not
    /// here, so that the next item does not wait for it.
    /// </summary>
    /// <exception cref="ObjectDisposedException">The thread was closed (<see cref="CloseAsync"/>).</exception>
    public Task<T> RunAsync<T>(Func<Task<T>> work)
    {
        ArgumentNullException.ThrowIfNull(work);
        var done = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_queue)
        {
            if (_closed)
                throw new ObjectDisposedException(_name);
            _queue.Enqueue(() =>
            {
                try
                {
                    done.SetResult(work().GetAwaiter().GetResult());
                }
                catch (OperationCanceledException ex)
                {
                    done.SetCanceled(ex.CancellationToken);
                }
                catch (Exception ex)
                {
                    done.SetException(ex);
                }
            });
            // The thread waits only on an empty queue: the first item wakes it.
            if (_queue.Count == 1)
                Monitor.Pulse(_queue);
        }
        return done.Task;
    }

    /// <summary>Takes no more work; the task ends when what was posted has run and the thread has ended.</summary>
    public Task CloseAsync()
    {
        lock (_queue)
        {
            _closed = true;
            Monitor.Pulse(_queue);
        }
        return _ended;
    }

    private void Run()
    {
        while (true)
        {
            Action next;
            lock (_queue)
            {
                while (_queue.Count == 0)
                {
                    if (_closed)
                        return;
                    Monitor.Wait(_queue);
                }
                next = _queue.Dequeue();
            }
            next();
        }
    }
}
