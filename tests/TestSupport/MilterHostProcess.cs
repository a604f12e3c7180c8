using System.Collections.Concurrent;
using System.Diagnostics;

namespace Milter.TestSupport;

/// <summary>
/// The real built <c>milterhost</c> binary as a child process, the way a postmaster runs it:
/// <c>dotnet milterhost.dll run --config FILE</c>, or, with <c>MILTERHOST_EXECUTABLE</c> set to a
/// published executable (the native AOT build the packages ship), that file itself. Its console output is captured; with a
/// <see cref="SyslogSink"/> its syslog lines land in the sink's maillog beside sendmail's.
/// The test project must reference src/MilterHost so milterhost.dll sits beside the tests.
/// </summary>
public sealed class MilterHostProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly ConcurrentQueue<string> _output = new();
    private readonly TaskCompletionSource _exited = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private MilterHostProcess(Process process)
    {
        _process = process;
    }

    /// <summary>The process id (the daemon itself, also when started through the syslog sink's namespace).</summary>
    public int Pid => _process.Id;

    /// <summary>Every line written to stdout and stderr so far.</summary>
    public IReadOnlyList<string> Output => [.. _output];

    public bool HasExited => _process.HasExited;

    /// <summary>Path of the milterhost.dll the tests run.</summary>
    public static string BinaryPath
    {
        get
        {
            var path = Path.Combine(AppContext.BaseDirectory, "milterhost.dll");
            return File.Exists(path) ? path : throw new FileNotFoundException("milterhost.dll is not beside the tests: reference src/MilterHost from the test project", path);
        }
    }

    /// <summary>The dotnet host that runs the tests (DOTNET_HOST_PATH under dotnet test), else dotnet on PATH.</summary>
    public static string DotnetHost => Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host) ? host : "dotnet";

    /// <summary>
    /// <c>MILTERHOST_EXECUTABLE</c>: a published milterhost to run instead of <c>dotnet milterhost.dll</c>
    /// (.ci/run runs the end-to-end tests a second time against the native AOT build); null when unset.
    /// </summary>
    public static string? Executable
    {
        get
        {
            if (Environment.GetEnvironmentVariable("MILTERHOST_EXECUTABLE") is not { Length: > 0 } path)
                return null;
            return File.Exists(path) ? Path.GetFullPath(path) : throw new FileNotFoundException("MILTERHOST_EXECUTABLE names no file", path);
        }
    }

    /// <summary>The program and leading arguments that run milterhost: <c>dotnet milterhost.dll</c>, or <see cref="Executable"/>.</summary>
    public static IReadOnlyList<string> Command => Executable is { } executable ? [executable] : [DotnetHost, BinaryPath];

    /// <summary>Runs <c>milterhost ARGS</c> to completion (check-config, simulate, ...).</summary>
    public static async Task<(int ExitCode, string StdOut, string StdErr)> RunToEndAsync(IEnumerable<string> arguments, TimeSpan? timeout = null)
    {
        var command = Command;
        var psi = new ProcessStartInfo(command[0]) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in command.Skip(1).Concat(arguments)) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi) ?? throw new InvalidOperationException("could not start milterhost");
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(60));
        try
        {
            await p.WaitForExitAsync(cts.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"milterhost {string.Join(' ', arguments)} did not finish: {await stderr.ConfigureAwait(false)}");
        }
        return (p.ExitCode, await stdout.ConfigureAwait(false), await stderr.ConfigureAwait(false));
    }

    /// <summary>
    /// Starts <c>milterhost run --config <paramref name="configPath"/></c> and waits until it logs that it
    /// started (or exits, which throws with its output). The config should log to the console
    /// (<c>log: { syslog: false }</c>) or to syslog with a <paramref name="syslog"/> sink.
    /// <paramref name="environment"/> adds variables (e.g. <c>NOTIFY_SOCKET</c>) for this process only.
    /// <paramref name="launcher"/> is a command that execs the rest of its arguments, such as
    /// <c>unshare -m sh -c 'mount ... &amp;&amp; exec "$@"' sh</c>: the daemon keeps the launcher's process id.
    /// </summary>
    public static async Task<MilterHostProcess> StartAsync(string configPath, SyslogSink? syslog = null, TimeSpan? readyTimeout = null, bool waitUntilReady = true,
        IReadOnlyDictionary<string, string>? environment = null, IReadOnlyList<string>? launcher = null)
    {
        RequireLoopbackDns(configPath);
        string[] command = [.. Command, "run", "--config", configPath];
        if (launcher is { Count: > 0 })
            command = [.. launcher, .. command];
        var program = command[0];
        var args = command[1..];
        var psi = syslog is null ? new ProcessStartInfo(program, args) : syslog.CreateStartInfo(program, args);
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
            psi.Environment[name] = value;
        psi.RedirectStandardOutput = true;
        psi.RedirectStandardError = true;
        psi.UseShellExecute = false;
        var process = new Process { StartInfo = psi, EnableRaisingEvents = true };
        var host = new MilterHostProcess(process);
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) host._output.Enqueue(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) host._output.Enqueue(e.Data); };
        process.Exited += (_, _) => host._exited.TrySetResult();
        if (!process.Start())
            throw new InvalidOperationException("could not start milterhost");
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        if (waitUntilReady)
        {
            var ready = await host.WaitForOutputAsync(l => l.Contains(" started: ", StringComparison.Ordinal), readyTimeout ?? TimeSpan.FromSeconds(30), syslog).ConfigureAwait(false);
            if (!ready)
            {
                await host.DisposeAsync().ConfigureAwait(false);
                throw new InvalidOperationException("milterhost did not start:\n" + string.Join('\n', host.Output));
            }
        }
        return host;
    }

    /// <summary>
    /// Tests send DNS traffic only to servers they started: a daemon under test must be given
    /// <c>dns.servers</c> on loopback (a dead port such as 127.0.0.1:9 when the test needs no DNS),
    /// never the machine's resolver. Enforced here so no test can forget it.
    /// </summary>
    public static void RequireLoopbackDns(string configPath)
    {
        var text = File.ReadAllText(configPath);
        var dns = System.Text.RegularExpressions.Regex.Match(text, @"(?m)^dns:\s*(\{[^}\n]*\}|(\n[ \t]+.*)+)");
        var servers = dns.Success ? System.Text.RegularExpressions.Regex.Match(dns.Value, @"servers:\s*\[([^\]]*)\]") : null;
        if (servers is not { Success: true } || servers.Groups[1].Value.Trim().Length == 0)
            throw new InvalidOperationException($"{configPath}: a daemon under test needs dns.servers on loopback (e.g. dns: {{ servers: [\"127.0.0.1:9\"] }}), never the machine's resolver");
        foreach (var server in servers.Groups[1].Value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var host = server.Trim('"', '\'', ' ');
            host = host.StartsWith('[') ? host[1..host.IndexOf(']', StringComparison.Ordinal)] : host.Count(c => c == ':') == 1 ? host[..host.IndexOf(':', StringComparison.Ordinal)] : host;
            if (!System.Net.IPAddress.TryParse(host, out var ip) || !System.Net.IPAddress.IsLoopback(ip))
                throw new InvalidOperationException($"{configPath}: dns server '{server}' is not on loopback; tests may only query DNS servers they started");
        }
    }

    /// <summary>Waits for an output line (or a syslog line in <paramref name="syslog"/>); false on timeout or exit.</summary>
    public async Task<bool> WaitForOutputAsync(Func<string, bool> predicate, TimeSpan timeout, SyslogSink? syslog = null)
    {
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < timeout)
        {
            if (_output.Any(predicate) || (syslog is not null && syslog.Lines.Any(predicate)))
                return true;
            if (_process.HasExited)
            {
                await Task.Delay(100).ConfigureAwait(false); // let the last lines arrive
                return _output.Any(predicate);
            }
            await Task.Delay(50).ConfigureAwait(false);
        }
        return false;
    }

    /// <summary>Sends a signal by name (HUP, TERM, INT, KILL).</summary>
    public void Signal(string name)
    {
        ProcessSignals.Send(name, Pid);
    }

    /// <summary>Waits for the process to end; returns its exit code.</summary>
    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        await _exited.Task.WaitAsync(timeout).ConfigureAwait(false);
        await _process.WaitForExitAsync().ConfigureAwait(false);
        return _process.ExitCode;
    }

    /// <summary>SIGTERM, then SIGKILL after a few seconds if it is still there.</summary>
    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            try
            {
                Signal("TERM");
                await WaitForExitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
            }
            catch (Exception e) when (e is TimeoutException or InvalidOperationException)
            {
                _process.Kill(entireProcessTree: true);
            }
        }
        _process.Dispose();
    }
}
