using System.Net;
using System.Net.Sockets;
using Milter.TestSupport.Internal;

namespace Milter.TestSupport;

/// <summary>
/// A real sendmail of the test's own: its configuration, queue, aliases, access map and log live in
/// a sandbox directory under /var/lib/milterhost-test, it listens on 127.0.0.1 and ::1 on a port of
/// its own, it never uses DNS, and it queues what it accepts without delivering it. Needs root.
/// </summary>
/// <example>
/// <code>
/// await using var sendmail = await PrivateSendmail.CreateAsync();
/// await sendmail.StartAsync(new SendmailOptions { MilterSocket = $"unix:{Path.Combine(sendmail.Directory, "milter.sock")}" });
/// var result = await Swaks.RunAsync(new SwaksRequest { Port = sendmail.Port, To = ["alice@example.com"] });
/// var queued = sendmail.ReadQueuedMessage(result.QueueId!);
/// </code>
/// </example>
public sealed class PrivateSendmail : IAsyncDisposable
{
    /// <summary>The packages a sandboxed sendmail and its usual client need.</summary>
    public static readonly IReadOnlyList<string> RequiredPackages = ["sendmail-bin", "sendmail-cf", "m4", "swaks", "libsasl2-modules"];

    private const string SendmailBinary = "/usr/sbin/sendmail";
    private const int PortAttempts = 3;
    private static readonly TimeSpan StepTimeout = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan ReadyTimeout = TimeSpan.FromSeconds(20);
    private static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(25);

    private readonly SandboxLayout _layout;
    private readonly TimeProvider _time;

    private PrivateSendmail(string directory, SyslogSink log, TimeProvider time)
    {
        Directory = directory;
        Log = log;
        _layout = new SandboxLayout(directory);
        _time = time;
    }

    /// <summary>The sandbox directory; a good place for the milter's socket.</summary>
    public string Directory { get; }

    /// <summary>sendmail's log (and that of any process started through <see cref="SyslogSink.CreateStartInfo"/>).</summary>
    public SyslogSink Log { get; }

    /// <summary>The options of the current (or last) start; null before the first.</summary>
    public SendmailOptions? Options { get; private set; }

    /// <summary>The port it listens on, on 127.0.0.1 and (when the host has it) ::1; 0 before the first start.</summary>
    public int Port { get; private set; }

    /// <summary>Whether it also listens on ::1.</summary>
    public bool ListensOnIpv6 { get; private set; }

    /// <summary>Where its IPv4 daemon listens.</summary>
    public IPEndPoint Endpoint => new(IPAddress.Loopback, Port);

    /// <summary>The generated sendmail.cf.</summary>
    public string ConfigFile => _layout.Cf;

    /// <summary>The queue directory (qf/df files).</summary>
    public string QueueDirectory => _layout.Queue;

    /// <summary>True between a successful start and the next stop.</summary>
    public bool IsRunning => Sandbox.ReadPid(_layout.PidFile) is { } pid && ProcFs.IsAlive(pid);

    /// <summary>
    /// The pids of the daemon's children serving an SMTP client from <paramref name="client"/>: sendmail
    /// forks one per connection and names it in its process title (<c>sm-mta: server [127.0.0.5] ...</c>).
    /// </summary>
    public IReadOnlyList<int> SessionProcesses(string client)
    {
        if (Sandbox.ReadPid(_layout.PidFile) is not { } daemon)
        {
            return [];
        }

        var needle = $"[{client}]";
        return [.. ProcFs.Children(daemon).Where(pid => ProcFs.CommandLine(pid).Contains(needle, StringComparison.Ordinal))];
    }

    /// <summary>
    /// Makes sure the packages are installed, creates the sandbox and starts its syslog sink. Nothing listens yet.
    /// </summary>
    public static async Task<PrivateSendmail> CreateAsync(TimeProvider? time = null, CancellationToken cancellationToken = default)
    {
        if (!LibC.IsRoot)
        {
            throw new InvalidOperationException("A private sendmail needs root: it binds a mount namespace and runs sendmail as a daemon.");
        }

        AptPackages.EnsureInstalled([.. RequiredPackages]);
        time ??= TimeProvider.System;
        var directory = Sandbox.Create();
        try
        {
            var log = await SyslogSink.StartAsync(directory, time, cancellationToken);
            return new PrivateSendmail(directory, log, time);
        }
        catch
        {
            System.IO.Directory.Delete(directory, recursive: true);
            throw;
        }
    }

    /// <summary><see cref="CreateAsync"/> then <see cref="StartAsync"/>.</summary>
    public static async Task<PrivateSendmail> StartNewAsync(SendmailOptions options, TimeProvider? time = null, CancellationToken cancellationToken = default)
    {
        var sendmail = await CreateAsync(time, cancellationToken);
        try
        {
            await sendmail.StartAsync(options, cancellationToken);
            return sendmail;
        }
        catch
        {
            await sendmail.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// Writes the configuration for <paramref name="options"/> and starts the daemon, returning once it
    /// listens. A running daemon is stopped first; the queue is kept across restarts.
    /// </summary>
    public async Task StartAsync(SendmailOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        await StopAsync(cancellationToken);
        var ipv6 = HasIpv6Loopback();
        for (var attempt = 1; ; attempt++)
        {
            var port = options.Port ?? FreePort.Next();
            await WriteConfigurationAsync(options, port, ipv6, cancellationToken);
            var logStart = Log.Lines.Count;
            await LaunchAsync(cancellationToken);
            var outcome = await WaitUntilListeningAsync(port, ipv6, logStart, cancellationToken);
            if (outcome == StartOutcome.Listening)
            {
                (Options, Port, ListensOnIpv6) = (options, port, ipv6);
                return;
            }

            await StopAsync(cancellationToken);
            // A port picked for us can be taken by another run between the check and sendmail's bind.
            if (outcome == StartOutcome.PortTaken && options.Port is null && attempt < PortAttempts)
            {
                continue;
            }

            throw new InvalidOperationException(
                $"sendmail in {Directory} did not start listening on port {port} ({outcome}). Its log:{Environment.NewLine}" +
                string.Join(Environment.NewLine, Log.Lines.Skip(logStart)));
        }
    }

    /// <summary>The sendmail processes working in this sandbox, the daemon's pid file or not.</summary>
    public IReadOnlyList<int> ProcessesInSandbox() => [.. ProcFs.WorkingIn(Directory, "sendmail")];

    /// <summary>Stops the daemon and any session processes it forked, and a daemon that never wrote its pid file; does nothing when none runs.</summary>
    public async Task StopAsync(CancellationToken cancellationToken = default)
    {
        if (Sandbox.ReadPid(_layout.PidFile) is not { } pid)
        {
            // sendmail writes its pid file only once it has bound its port: a start that failed on a
            // port held by another listener leaves a daemon that keeps retrying the bind, works in
            // the sandbox's queue folder, and would serve that port once it is free, long after the
            // test (one leaked per end-to-end run, adopted by init, its folder deleted).
            // SIGKILL takes effect asynchronously, and a daemon caught mid-fork leaves a child: kill
            // and look again until none is left.
            using var reaping = new Deadline(StopTimeout, _time, cancellationToken);
            for (var stragglers = ProcessesInSandbox(); stragglers.Count > 0; stragglers = ProcessesInSandbox())
            {
                foreach (var straggler in stragglers)
                {
                    LibC.Signal(straggler, LibC.SIGKILL);
                }

                try
                {
                    await Task.Delay(PollInterval, _time, reaping.Token);
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                    throw new InvalidOperationException($"sendmail processes [{string.Join(", ", stragglers)}] in {Directory} outlived SIGKILL for {StopTimeout}.");
                }
            }

            return;
        }

        Sandbox.SignalSendmail(_layout.PidFile, LibC.SIGTERM);
        using var deadline = new Deadline(StopTimeout, _time, cancellationToken);
        try
        {
            while (ProcFs.IsAlive(pid))
            {
                await Task.Delay(PollInterval, _time, deadline.Token);
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            Sandbox.SignalSendmail(_layout.PidFile, LibC.SIGKILL);
        }

        // Session children may outlive the daemon for a moment; the group signal reaches them too.
        LibC.Signal(-pid, LibC.SIGKILL);
        File.Delete(_layout.PidFile);
    }

    /// <summary>Every message in the queue (quarantined ones included), ordered by queue id.</summary>
    public IReadOnlyList<QueuedMessage> ReadQueue() =>
        [.. ControlFiles().OrderBy(name => name[2..], StringComparer.Ordinal).Select(name => QueueFile.Read(QueueDirectory, name))];

    /// <summary>The queued message with this id.</summary>
    /// <exception cref="InvalidOperationException">No such message; the message lists those there are.</exception>
    public QueuedMessage ReadQueuedMessage(string queueId)
    {
        ArgumentException.ThrowIfNullOrEmpty(queueId);
        var name = ControlFiles().FirstOrDefault(n => n[2..] == queueId);
        return name is not null
            ? QueueFile.Read(QueueDirectory, name)
            : throw new InvalidOperationException(
                $"No message {queueId} in {QueueDirectory}; queued: [{string.Join(", ", ControlFiles().Select(n => n[2..]))}].");
    }

    /// <summary>Deletes every queued message, for tests that count what a shared instance queued.</summary>
    public void ClearQueue()
    {
        foreach (var file in System.IO.Directory.EnumerateFiles(QueueDirectory))
        {
            File.Delete(file);
        }
    }

    /// <summary>Stops sendmail, closes the log and deletes the sandbox.</summary>
    public async ValueTask DisposeAsync()
    {
        await StopAsync(CancellationToken.None);
        await Log.DisposeAsync();
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
            // A straggling session process still writes there; the next run's reaper removes it.
        }
    }

    private IEnumerable<string> ControlFiles() =>
        System.IO.Directory.Exists(QueueDirectory)
            ? System.IO.Directory.EnumerateFiles(QueueDirectory)
                .Select(Path.GetFileName)
                .OfType<string>()
                .Where(n => n.StartsWith(QueueFile.ControlPrefix, StringComparison.Ordinal) || n.StartsWith(QueueFile.QuarantinedPrefix, StringComparison.Ordinal))
            : [];

    private async Task WriteConfigurationAsync(SendmailOptions options, int port, bool ipv6, CancellationToken cancellationToken)
    {
        foreach (var directory in new[] { _layout.Queue, _layout.HostStatus })
        {
            System.IO.Directory.CreateDirectory(directory);
            UnixFiles.SetMode(directory, UnixFiles.Private);
        }

        await WriteAsync(_layout.Mc, SendmailConfig.Mc(options, _layout, port, ipv6), cancellationToken);
        await WriteAsync(_layout.ServiceSwitch, SendmailConfig.ServiceSwitch(), cancellationToken);
        await WriteAsync(_layout.Aliases, SendmailConfig.Aliases(options), cancellationToken);
        await WriteAsync(_layout.LocalHostNames, SendmailConfig.LocalHostNames(options), cancellationToken);
        await WriteAsync(_layout.Access, SendmailConfig.Access(options), cancellationToken);
        if (!File.Exists(_layout.StatusFile))
        {
            await WriteAsync(_layout.StatusFile, string.Empty, cancellationToken);
        }

        var m4 = await ProcessRunner.RunAsync("m4", [_layout.Mc], StepTimeout, _time, cancellationToken);
        m4.EnsureSuccess();
        await WriteAsync(_layout.Cf, m4.StandardOutput, cancellationToken);
        var makemap = ProcessRunner.StartInfo("sh", ["-c", "exec makemap hash \"$1\" < \"$1\"", "sh", _layout.Access]);
        (await ProcessRunner.RunAsync(makemap, StepTimeout, _time, cancellationToken)).EnsureSuccess();
        (await ProcessRunner.RunAsync(SendmailBinary, ["-C", _layout.Cf, "-bi"], StepTimeout, _time, cancellationToken)).EnsureSuccess();
    }

    private async Task LaunchAsync(CancellationToken cancellationToken)
    {
        // -bd without -q: a queue run would try to deliver what earlier starts queued.
        var start = Log.CreateStartInfo(SendmailBinary, ["-C", _layout.Cf, "-bd"]);
        var result = await ProcessRunner.RunAsync(start, StepTimeout, _time, cancellationToken);
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException($"sendmail did not start. {result.Describe()}");
        }
    }

    private async Task<StartOutcome> WaitUntilListeningAsync(int port, bool ipv6, int logStart, CancellationToken cancellationToken)
    {
        using var deadline = new Deadline(ReadyTimeout, _time, cancellationToken);
        try
        {
            while (true)
            {
                if (Log.Lines.Skip(logStart).Any(l => l.Contains("cannot bind", StringComparison.Ordinal)))
                {
                    return StartOutcome.PortTaken;
                }

                if (Sandbox.ReadPid(_layout.PidFile) is { } pid)
                {
                    if (!ProcFs.IsAlive(pid))
                    {
                        return StartOutcome.Exited;
                    }

                    var listening = ProcFs.ListeningPorts(pid);
                    if (listening.Contains(("tcp", port)) && (!ipv6 || listening.Contains(("tcp6", port))))
                    {
                        return StartOutcome.Listening;
                    }
                }

                await Task.Delay(PollInterval, _time, deadline.Token);
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return StartOutcome.TimedOut;
        }
    }

    private static async Task WriteAsync(string path, string content, CancellationToken cancellationToken)
    {
        await File.WriteAllTextAsync(path, content, cancellationToken);
        // sendmail refuses group- or world-writable maps and class files.
        UnixFiles.SetMode(path, UnixFiles.Readable);
    }

    private static bool HasIpv6Loopback()
    {
        if (!Socket.OSSupportsIPv6)
        {
            return false;
        }

        using var probe = new Socket(AddressFamily.InterNetworkV6, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            probe.Bind(new IPEndPoint(IPAddress.IPv6Loopback, 0));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    private enum StartOutcome
    {
        Listening,
        PortTaken,
        Exited,
        TimedOut,
    }
}
