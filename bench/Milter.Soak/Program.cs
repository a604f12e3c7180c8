using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using Milter.Soak;
using Milter.TestSupport;

// Usage: Milter.Soak [MINUTES] [WORKERS]   (default 2 minutes, 4 workers)
// Starts the real milterhost (dotnet milterhost.dll run, or the executable MILTERHOST_EXECUTABLE names,
// such as the native AOT build) in a scratch folder, sends mixed traffic
// from WORKERS loops for MINUTES, and prints the daemon's RSS and open descriptors every minute.
// Exit 1 when any session got an answer its kind does not expect or failed outright.
var minutes = args.Length > 0 ? double.Parse(args[0], CultureInfo.InvariantCulture) : 2;
var workers = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 4;
var folder = Path.Combine("/var/lib/milterhost-test", $"soak-{Environment.ProcessId}");
Directory.CreateDirectory(folder);
var socket = Path.Combine(folder, "milter.sock");
var config = Path.Combine(folder, "milterhost.yaml");
File.WriteAllText(config, $"""
    listen: unix:{socket}
    socket: {'{'} mode: "0666" {'}'}
    user: root
    database: sqlite:{Path.Combine(folder, "milterhost.db")}
    on_error: tempfail
    log: {'{'} level: info, syslog: false, file: {Path.Combine(folder, "milterhost.log")} {'}'}
    limits: {'{'} max_connections: 200, idle_timeout: 30s, shutdown_grace: 5s {'}'}
    local_domains: [example.com]
    relay: {'{'} allow_clients: [127.0.0.0/8] {'}'}
    greylist: {'{'} enabled: true, per_message: false, spf_pools: false, only_suspicious: false {'}'}
    recipients: {'{'} reject_unknown: false {'}'}
    dns: {'{'} servers: ["127.0.0.1:9"], timeout: 500ms {'}'}
    ban:
      - {'{'} client: 192.0.2.66 {'}'}
    """);

// The log goes to a file (one line per decision would otherwise pile up in this process), so
// readiness is the socket appearing.
var daemon = await MilterHostProcess.StartAsync(config, waitUntilReady: false);
for (var wait = Stopwatch.StartNew(); !File.Exists(socket); await Task.Delay(100))
{
    if (daemon.HasExited || wait.Elapsed > TimeSpan.FromSeconds(30))
        throw new InvalidOperationException("milterhost did not start:\n" + string.Join('\n', daemon.Output));
}
var exit = 0;
try
{
    var traffic = new Traffic(new UnixDomainSocketEndPoint(socket));
    var kinds = Enum.GetValues<Kind>();
    var counts = new long[kinds.Length];
    var wrong = new long[kinds.Length];
    var failed = 0L;
    using var stop = new CancellationTokenSource(TimeSpan.FromMinutes(minutes));
    var loops = Enumerable.Range(0, workers).Select(w => Task.Run(async () =>
    {
        for (var i = w; !stop.IsCancellationRequested; i++)
        {
            var kind = kinds[i % kinds.Length];
            try
            {
                using var bound = CancellationTokenSource.CreateLinkedTokenSource(stop.Token);
                bound.CancelAfter(TimeSpan.FromSeconds(15));
                var right = await traffic.RunAsync(kind, bound.Token);
                Interlocked.Increment(ref counts[(int)kind]);
                if (!right) Interlocked.Increment(ref wrong[(int)kind]);
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is IOException or SocketException or EndOfStreamException or OperationCanceledException)
            {
                Interlocked.Increment(ref failed);
            }
        }
    })).ToArray();

    var clock = Stopwatch.StartNew();
    Console.WriteLine("minute  sessions    RSS MiB  open fds");
    void Sample(string label) =>
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{label,6}  {counts.Sum(),8}  {ProcessStats.Sample(daemon.Pid).RssMiB,9:0.0}  {ProcessStats.Sample(daemon.Pid).OpenFds,8}"));
    Sample("0");
    for (var minute = 1; minute <= Math.Ceiling(minutes); minute++)
    {
        var next = TimeSpan.FromMinutes(Math.Min(minute, minutes)) - clock.Elapsed;
        if (next > TimeSpan.Zero)
            await Task.Delay(next);
        Sample(minute.ToString(CultureInfo.InvariantCulture));
    }
    await Task.WhenAll(loops);
    await Task.Delay(2000); // the last sessions close
    Sample("end");
    foreach (var kind in kinds)
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{kind,-12} {counts[(int)kind],8} sessions, {wrong[(int)kind]} wrong answers"));
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"failed sessions: {failed}; daemon alive: {!daemon.HasExited}"));
    if (wrong.Sum() > 0 || failed > 0 || daemon.HasExited)
        exit = 1;
}
finally
{
    await daemon.DisposeAsync();
    Directory.Delete(folder, recursive: true);
}
return exit;
