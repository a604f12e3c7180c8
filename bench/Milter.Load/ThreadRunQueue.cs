using System.Globalization;
using Microsoft.Win32.SafeHandles;

namespace Milter.Load;

/// <summary>
/// How long the calling thread has waited for a CPU while runnable, from <c>/proc/thread-self/schedstat</c>
/// (its second field, in ns): the part of a message's latency that is the load generator's own thread
/// queued behind others, not the filter. Opened on first use by the thread that reads it (the file is
/// that thread's), then read again at offset 0 each time: one system call.
/// </summary>
public sealed class ThreadRunQueue : IDisposable
{
    private readonly byte[] _buffer = new byte[96];
    private SafeFileHandle? _file;
    private bool _unavailable;

    /// <summary>Nanoseconds this thread has spent runnable but not running since it started; null where the kernel does not say.</summary>
    public long? WaitedNs()
    {
        if (_unavailable)
            return null;
        try
        {
            _file ??= File.OpenHandle("/proc/thread-self/schedstat");
            // "RUN_NS WAIT_NS TIMESLICES\n": the second field, read where it lies (this runs once a message).
            var text = _buffer.AsSpan(0, RandomAccess.Read(_file, _buffer, 0));
            var wait = text[(text.IndexOf((byte)' ') + 1)..];
            return long.Parse(wait[..wait.IndexOf((byte)' ')], NumberStyles.None, CultureInfo.InvariantCulture);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or ArgumentOutOfRangeException)
        {
            _unavailable = true;
            return null;
        }
    }

    public void Dispose() => _file?.Dispose();
}
