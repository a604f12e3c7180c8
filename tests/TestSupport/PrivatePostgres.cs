using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Npgsql;
using Xunit;

namespace Milter.TestSupport;

/// <summary>
/// A private PostgreSQL server for one test collection (<c>ICollectionFixture&lt;PrivatePostgres&gt;</c>):
/// Debian's <c>initdb</c> and <c>pg_ctl</c> (installed with apt-get when missing and we are root)
/// in a folder of its own under <c>/var/lib/milterhost-test</c>, listening on 127.0.0.1 at a free
/// port with its socket in that folder. Tests take a fresh database each from
/// <see cref="CreateDatabaseAsync"/>; <see cref="StopAsync"/> and <see cref="StartAsync"/> play an
/// outage. Disposing stops the server (<c>-m fast</c>) and deletes the folder, also after failed tests.
/// See shared/docs/real-postgresql-in-tests.md.
/// </summary>
public sealed class PrivatePostgres : IAsyncLifetime
{
    private const string RootFolder = "/var/lib/milterhost-test";
    private const string ServiceUser = "postgres";
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromMinutes(3);

    private readonly bool _asRoot = Environment.UserName == "root";
    private string _bin = "";
    private int _databases;
    private bool _running;

    /// <summary>The server's folder: <c>data/</c>, the socket, and <c>log</c>.</summary>
    public string Folder { get; private set; } = "";

    public int Port { get; private set; }

    private string DataFolder => Path.Combine(Folder, "data");
    private string LogFile => Path.Combine(Folder, "log");

    public async Task InitializeAsync()
    {
        _bin = await FindOrInstallBinariesAsync().ConfigureAwait(false);
        var parent = _asRoot ? RootFolder : Path.GetTempPath();
        Directory.CreateDirectory(parent);
        Folder = Path.Combine(parent, $"pg-{Environment.ProcessId}-{Guid.NewGuid():N}"[..24]);
        Directory.CreateDirectory(Folder);
        AppDomain.CurrentDomain.ProcessExit += OnProcessExit;
        if (_asRoot)
            await RunAsync("chown", [ServiceUser, Folder]).ConfigureAwait(false);
        await RunAsServiceUserAsync(Path.Combine(_bin, "initdb"),
            ["-D", DataFolder, "-A", "trust", "-U", ServiceUser, "-E", "UTF8", "--locale=C", "--no-sync"]).ConfigureAwait(false);
        await StartOnFreePortAsync().ConfigureAwait(false);
    }

    /// <summary>A connection string for <paramref name="database"/> on this server.</summary>
    public string ConnectionString(string database) => new NpgsqlConnectionStringBuilder
    {
        Host = "127.0.0.1",
        Port = Port,
        Username = ServiceUser,
        Database = database,
        Pooling = true,
        Timeout = 5,
    }.ConnectionString;

    /// <summary>Creates an empty database with a unique name starting with <paramref name="prefix"/>; returns its connection string.</summary>
    public async Task<string> CreateDatabaseAsync(string prefix)
    {
        var clean = new string(prefix.ToLowerInvariant().Where(char.IsAsciiLetterOrDigit).Take(30).ToArray());
        var name = $"t_{clean}_{Interlocked.Increment(ref _databases)}";
        var admin = new NpgsqlConnection(ConnectionString("postgres") + ";Pooling=false");
        await using (admin.ConfigureAwait(false))
        {
            await admin.OpenAsync().ConfigureAwait(false);
            var command = new NpgsqlCommand($"CREATE DATABASE \"{name}\"", admin);
            await using (command.ConfigureAwait(false))
                await command.ExecuteNonQueryAsync().ConfigureAwait(false);
        }
        return ConnectionString(name);
    }

    /// <summary>Stops the server: <c>-m immediate</c> (a crash, by default) or <c>-m fast</c>.</summary>
    public async Task StopAsync(bool immediate = true)
    {
        await PgCtlAsync(["-m", immediate ? "immediate" : "fast", "stop"]).ConfigureAwait(false);
        _running = false;
        NpgsqlConnection.ClearAllPools();
    }

    /// <summary>Starts the same data folder again on the same port.</summary>
    /// <summary>
    /// Freezes the server (SIGSTOP to the postmaster and every backend): connections stay open and
    /// queries simply get no answer, as with a hung database host. <see cref="Resume"/> undoes it.
    /// </summary>
    public void Pause() => SignalAll("STOP");

    /// <summary>Lets a <see cref="Pause"/>d server run again (SIGCONT).</summary>
    public void Resume() => SignalAll("CONT");

    private void SignalAll(string signal)
    {
        var postmaster = int.Parse(File.ReadLines(Path.Combine(DataFolder, "postmaster.pid")).First(), System.Globalization.CultureInfo.InvariantCulture);
        var children = File.ReadAllText($"/proc/{postmaster}/task/{postmaster}/children")
            .Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(c => int.Parse(c, System.Globalization.CultureInfo.InvariantCulture));
        // As before: a child that ended meanwhile makes kill(1) fail; the others got the signal.
        try { ProcessSignals.Send(signal, [postmaster, .. children]); }
        catch (InvalidOperationException) { }
    }

    public async Task StartAsync()
    {
        await PgCtlAsync(["-o", ServerOptions(), "-l", LogFile, "start"]).ConfigureAwait(false);
        _running = true;
    }

    public async Task DisposeAsync()
    {
        AppDomain.CurrentDomain.ProcessExit -= OnProcessExit;
        try
        {
            if (_running)
                await StopAsync(immediate: false).ConfigureAwait(false);
        }
        finally
        {
            if (Folder.Length > 0 && Directory.Exists(Folder))
                Directory.Delete(Folder, recursive: true);
        }
    }

    // A test run killed before DisposeAsync still stops its server.
    private void OnProcessExit(object? sender, EventArgs e)
    {
        if (_running)
            StopAsync(immediate: true).Wait(TimeSpan.FromSeconds(20));
    }

    private async Task StartOnFreePortAsync()
    {
        // The port is free when probed but may be taken before the server binds it: try a few.
        for (var attempt = 1; ; attempt++)
        {
            Port = FreeLoopbackPort();
            try
            {
                await StartAsync().ConfigureAwait(false);
                return;
            }
            catch (InvalidOperationException) when (attempt < 3)
            {
            }
        }
    }

    private string ServerOptions() => string.Join(' ',
        "-k", Folder, "-p", Port.ToString(CultureInfo.InvariantCulture), "-c", "listen_addresses=127.0.0.1",
        // A throw-away server on a shared test machine: no fsync, small footprint.
        "-c", "fsync=off", "-c", "full_page_writes=off", "-c", "shared_buffers=16MB", "-c", "max_connections=60");

    private Task PgCtlAsync(IReadOnlyList<string> arguments) =>
        RunAsServiceUserAsync(Path.Combine(_bin, "pg_ctl"), ["-D", DataFolder, "-w", "-t", "60", .. arguments]);

    private Task RunAsServiceUserAsync(string program, IReadOnlyList<string> arguments) =>
        _asRoot ? RunAsync("runuser", ["-u", ServiceUser, "--", program, .. arguments]) : RunAsync(program, arguments);

    private async Task RunAsync(string program, IReadOnlyList<string> arguments, IReadOnlyDictionary<string, string>? environment = null)
    {
        var start = new ProcessStartInfo(program)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = "/",
        };
        foreach (var argument in arguments)
            start.ArgumentList.Add(argument);
        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
            start.Environment[key] = value;
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {program}");
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(CommandTimeout);
        try
        {
            await process.WaitForExitAsync(timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new InvalidOperationException($"{program} {string.Join(' ', arguments)} did not finish within {CommandTimeout}");
        }
        if (process.ExitCode != 0)
        {
            var text = new StringBuilder()
                .AppendLine(CultureInfo.InvariantCulture, $"{program} {string.Join(' ', arguments)} exited with {process.ExitCode}")
                .AppendLine(await output.ConfigureAwait(false))
                .AppendLine(await error.ConfigureAwait(false));
            if (File.Exists(LogFile))
                text.AppendLine("server log:").AppendLine(await File.ReadAllTextAsync(LogFile).ConfigureAwait(false));
            throw new InvalidOperationException(text.ToString());
        }
    }

    private async Task<string> FindOrInstallBinariesAsync()
    {
        if (Find() is { } found)
            return found;
        if (!_asRoot)
            throw new InvalidOperationException("PostgreSQL is not installed (/usr/lib/postgresql/*/bin) and only root may apt-get install it");
        await RunAsync("apt-get", ["install", "-y", "-q", "postgresql"],
            new Dictionary<string, string> { ["DEBIAN_FRONTEND"] = "noninteractive" }).ConfigureAwait(false);
        return Find() ?? throw new InvalidOperationException("apt-get installed postgresql but no /usr/lib/postgresql/*/bin/initdb appeared");

        static string? Find() => Directory.Exists("/usr/lib/postgresql")
            ? Directory.GetDirectories("/usr/lib/postgresql")
                .Select(d => Path.Combine(d, "bin"))
                .Where(b => File.Exists(Path.Combine(b, "initdb")) && File.Exists(Path.Combine(b, "pg_ctl")))
                .OrderByDescending(b => int.TryParse(Path.GetFileName(Path.GetDirectoryName(b)), out var v) ? v : 0)
                .FirstOrDefault()
            : null;
    }

    private static int FreeLoopbackPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
