using System.Diagnostics;
using EndToEnd.Tests.Daemon;
using Milter.TestSupport;

namespace EndToEnd.Tests.Hostile;

/// <summary>
/// A daemon started in a private mount namespace whose SQLite folder is a small tmpfs of its own
/// (600 KiB), so a test can fill that disk, stack a read-only mount over it, or hold a lock on the
/// database from inside the namespace, without touching the machine's mounts.
/// </summary>
internal sealed class MountedDaemon : IAsyncDisposable
{
    private MountedDaemon(DaemonSandbox sandbox, MilterHostProcess process, string databaseFolder)
    {
        Sandbox = sandbox;
        Process = process;
        DatabaseFolder = databaseFolder;
    }

    public DaemonSandbox Sandbox { get; }

    public MilterHostProcess Process { get; }

    public string DatabaseFolder { get; }

    public string DatabasePath => Path.Combine(DatabaseFolder, "milterhost.db");

    public static async Task<MountedDaemon> StartAsync(string name, DaemonConfig config)
    {
        // The tests hold locks and check the file with the sqlite3 shell inside the namespace.
        AptPackages.EnsureInstalled("sqlite3");
        var sandbox = new DaemonSandbox(name);
        var folder = Path.Combine(sandbox.Directory, "db");
        Directory.CreateDirectory(folder);
        string[] launcher =
        [
            "unshare", "-m", "--propagation", "private",
            "sh", "-c", "mount -t tmpfs -o size=600k milterhost-test-db \"$0\" && exec \"$@\"", folder,
        ];
        try
        {
            var process = await sandbox.StartAsync(config with { Database = "sqlite:" + Path.Combine(folder, "milterhost.db") }, launcher: launcher);
            return new MountedDaemon(sandbox, process, folder);
        }
        catch
        {
            sandbox.Dispose();
            throw;
        }
    }

    /// <summary>Runs a shell command inside the daemon's mount namespace; returns its standard output.</summary>
    public async Task<string> InNamespaceAsync(string command)
    {
        var psi = new ProcessStartInfo("nsenter", ["-t", Process.Pid.ToString(System.Globalization.CultureInfo.InvariantCulture), "-m", "sh", "-c", command])
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        using var p = System.Diagnostics.Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
        if (p.ExitCode != 0)
            throw new InvalidOperationException($"in the daemon's namespace, '{command}' failed ({p.ExitCode}): {await stderr}");
        return await stdout;
    }

    /// <summary>Starts a long-running command inside the namespace with its standard input open (sqlite3 holding a lock).</summary>
    public System.Diagnostics.Process StartInNamespace(string program, params string[] arguments)
    {
        var psi = new ProcessStartInfo("nsenter", ["-t", Process.Pid.ToString(System.Globalization.CultureInfo.InvariantCulture), "-m", program, .. arguments])
        {
            RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        return System.Diagnostics.Process.Start(psi)!;
    }

    public int Count(string text) => Process.Output.Count(l => l.Contains(text, StringComparison.Ordinal));

    public async ValueTask DisposeAsync()
    {
        await Process.DisposeAsync();
        Sandbox.Dispose();
    }
}
