using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Text;
using Milter.TestSupport.Internal;

namespace Milter.TestSupport;

/// <summary>
/// Stands in for the syslog daemon these machines do not run: a Unix datagram socket that writes
/// every message it receives to a maillog-style file (<c>Nov 29 02:35:27 host sendmail[9514]: text</c>)
/// and lets tests wait for lines.
/// </summary>
/// <remarks>
/// Programs that log through syslog(3) write to the fixed path /dev/log. So that concurrent test
/// runs do not fight over it, processes started through <see cref="CreateStartInfo"/> run in a
/// private mount namespace (<c>unshare -m</c>) where this sink's socket is bind-mounted over
/// /dev/log. The bind mount needs a file to cover: if /dev/log is missing it is created as an
/// empty regular file, the only change made outside the test's own directory. Where
/// <c>unshare</c> is not allowed, the sink also binds /dev/log itself when no live listener holds it.
/// </remarks>
public sealed class SyslogSink : IAsyncDisposable
{
    /// <summary>The path syslog(3) writes to.</summary>
    public const string DevLog = "/dev/log";

    private const int MaxDatagram = 64 * 1024;
    private static readonly TimeSpan ProbeTimeout = TimeSpan.FromSeconds(10);

    private readonly List<(Socket Socket, string Path)> _sockets;
    private readonly FileStream _file;
    private readonly TimeProvider _time;
    private readonly string _hostName = Environment.MachineName;
    private readonly Lock _gate = new();
    private readonly List<string> _lines = [];
    private readonly List<(Func<string, bool> Predicate, TaskCompletionSource<string> Found)> _waiters = [];
    private readonly CancellationTokenSource _stopping = new();
    private readonly List<Task> _receivers;

    private SyslogSink(string socketPath, string logFilePath, bool isolated, List<(Socket, string)> sockets, TimeProvider time)
    {
        SocketPath = socketPath;
        LogFilePath = logFilePath;
        UsesPrivateNamespace = isolated;
        _sockets = sockets;
        _time = time;
        _file = new FileStream(logFilePath, FileMode.Append, FileAccess.Write, FileShare.ReadWrite);
        _receivers = sockets.Select(s => Task.Run(() => ReceiveAsync(s.Item1, _stopping.Token))).ToList();
    }

    /// <summary>The datagram socket of this sink; a program that can be told where to log can use it directly.</summary>
    public string SocketPath { get; }

    /// <summary>The maillog-style file every received message is appended to.</summary>
    public string LogFilePath { get; }

    /// <summary>
    /// True when started processes get a private /dev/log; false when the sink had to take the
    /// global /dev/log (then it may also catch messages of unrelated processes).
    /// </summary>
    public bool UsesPrivateNamespace { get; }

    /// <summary>The lines received so far, in maillog form.</summary>
    public IReadOnlyList<string> Lines
    {
        get
        {
            lock (_gate)
            {
                return [.. _lines];
            }
        }
    }

    /// <summary>
    /// Binds <c>syslog.sock</c> in <paramref name="directory"/> and starts writing <c>maillog</c> there.
    /// </summary>
    public static async Task<SyslogSink> StartAsync(string directory, TimeProvider? time = null, CancellationToken cancellationToken = default)
    {
        time ??= TimeProvider.System;
        Directory.CreateDirectory(directory);
        var socketPath = Path.Combine(directory, "syslog.sock");
        var sockets = new List<(Socket, string)> { (Bind(socketPath), socketPath) };
        try
        {
            var isolated = await CanBindOverDevLogAsync(socketPath, time, cancellationToken);
            if (!isolated)
            {
                sockets.Add((TakeGlobalDevLog(), DevLog));
            }

            return new SyslogSink(socketPath, Path.Combine(directory, "maillog"), isolated, sockets, time);
        }
        catch
        {
            foreach (var (socket, _) in sockets)
            {
                socket.Dispose();
            }

            throw;
        }
    }

    /// <summary>
    /// A start description that runs <paramref name="fileName"/> with /dev/log leading to this sink,
    /// so its syslog lines land in <see cref="LogFilePath"/>. Output is not redirected; set that as needed.
    /// </summary>
    public ProcessStartInfo CreateStartInfo(string fileName, IEnumerable<string> arguments)
    {
        ArgumentNullException.ThrowIfNull(arguments);
        if (!UsesPrivateNamespace)
        {
            return ProcessRunner.StartInfo(fileName, arguments);
        }

        // The socket path and the program travel as positional parameters, so nothing needs shell quoting.
        return ProcessRunner.StartInfo(
            "unshare",
            ["-m", "sh", "-c", "mount --bind \"$1\" /dev/log && shift && exec \"$@\"", "sh", SocketPath, fileName, .. arguments]);
    }

    /// <summary>
    /// Waits until a line (received before or after the call) satisfies <paramref name="predicate"/>.
    /// </summary>
    /// <exception cref="TimeoutException">No such line within <paramref name="timeout"/>; the message holds the lines seen.</exception>
    public async Task<string> WaitForLineAsync(Func<string, bool> predicate, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(predicate);
        var found = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_gate)
        {
            var existing = _lines.FirstOrDefault(predicate);
            if (existing is not null)
            {
                return existing;
            }

            _waiters.Add((predicate, found));
        }

        using var deadline = new Deadline(timeout, _time, cancellationToken);
        try
        {
            return await found.Task.WaitAsync(deadline.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException(
                $"No matching syslog line within {timeout.TotalSeconds:0.#} s. Lines so far:{Environment.NewLine}{string.Join(Environment.NewLine, Lines)}");
        }
        finally
        {
            lock (_gate)
            {
                _waiters.RemoveAll(w => w.Found == found);
            }
        }
    }

    /// <summary>Stops listening, removes the socket(s) and closes the file (which stays for post-mortems).</summary>
    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync();
        foreach (var (socket, path) in _sockets)
        {
            socket.Dispose();
            File.Delete(path);
        }

        await Task.WhenAll(_receivers);

        await _file.DisposeAsync();
        _stopping.Dispose();
    }

    private static Socket Bind(string path)
    {
        File.Delete(path);
        var socket = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        try
        {
            socket.Bind(new UnixDomainSocketEndPoint(path));
            // Daemons that drop privileges must still be able to log.
            UnixFiles.SetMode(path, UnixFiles.Writable);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    private static async Task<bool> CanBindOverDevLogAsync(string socketPath, TimeProvider time, CancellationToken cancellationToken)
    {
        if (!File.Exists(DevLog) && !Directory.Exists(DevLog))
        {
            try
            {
                await File.WriteAllBytesAsync(DevLog, [], cancellationToken);
            }
            catch (IOException)
            {
                // Another run created it meanwhile, or /dev is read-only: the probe below tells which.
            }
            catch (UnauthorizedAccessException)
            {
                return false;
            }
        }

        try
        {
            var probe = await ProcessRunner.RunAsync(
                "unshare", ["-m", "sh", "-c", "mount --bind \"$1\" /dev/log", "sh", socketPath], ProbeTimeout, time, cancellationToken);
            return probe.ExitCode == 0;
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }

    private static Socket TakeGlobalDevLog()
    {
        if (File.Exists(DevLog) && IsLiveSocket(DevLog))
        {
            throw new InvalidOperationException(
                $"Cannot capture syslog: unshare -m is not permitted here and {DevLog} already has a listener (a syslog daemon or another test run).");
        }

        return Bind(DevLog);
    }

    private static bool IsLiveSocket(string path)
    {
        using var probe = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        try
        {
            probe.Connect(new UnixDomainSocketEndPoint(path));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    private async Task ReceiveAsync(Socket socket, CancellationToken cancellationToken)
    {
        var buffer = new byte[MaxDatagram];
        while (!cancellationToken.IsCancellationRequested)
        {
            int length;
            try
            {
                length = await socket.ReceiveAsync(buffer, SocketFlags.None, cancellationToken);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }

            var text = Encoding.UTF8.GetString(buffer, 0, length).TrimEnd('\n', '\0', '\r');
            // Not cancelled mid-write: a message that arrived is kept whole.
            await AppendAsync(ToMaillogLine(text));
        }
    }

    private async Task AppendAsync(string line)
    {
        await _file.WriteAsync(Encoding.UTF8.GetBytes(line + "\n"));
        await _file.FlushAsync();
        lock (_gate)
        {
            _lines.Add(line);
            foreach (var (predicate, found) in _waiters)
            {
                try
                {
                    if (predicate(line))
                    {
                        found.TrySetResult(line);
                    }
                }
                catch (Exception e)
                {
                    // A faulty predicate fails its own wait, not the receiving loop.
                    found.TrySetException(e);
                }
            }
        }
    }

    /// <summary>
    /// syslog(3) sends <c>&lt;PRI&gt;Mmm dd hh:mm:ss tag[pid]: text</c>; a syslog daemon drops the priority
    /// and inserts the host name after the time stamp, which is what maillog readers expect.
    /// </summary>
    private string ToMaillogLine(string message)
    {
        const int StampLength = 15;
        var close = message.IndexOf('>', StringComparison.Ordinal);
        if (!message.StartsWith('<') || close < 2 || !int.TryParse(message.AsSpan(1, close - 1), NumberStyles.None, CultureInfo.InvariantCulture, out _))
        {
            return message;
        }

        var rest = message[(close + 1)..];
        return rest.Length > StampLength && rest[StampLength] == ' '
            ? $"{rest[..StampLength]} {_hostName} {rest[(StampLength + 1)..]}"
            : rest;
    }
}
