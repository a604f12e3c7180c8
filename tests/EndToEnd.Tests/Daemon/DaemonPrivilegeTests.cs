using System.Diagnostics;
using System.Net.Sockets;
using Milter.Protocol.Wire;
using Milter.TestSupport;

namespace EndToEnd.Tests.Daemon;

/// <summary>Started as root: bind first, then become <c>user:</c>; never run filters as root by accident.</summary>
public sealed class DaemonPrivilegeTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task Drops_to_the_configured_user_after_binding()
    {
        await using var account = await TestAccounts.CreateAsync("mhpriv");
        var (user, uid, gid) = (account.Name, account.Uid, account.Gid);
        using var sandbox = new DaemonSandbox("privdrop");
        // Folders that do not exist yet: the daemon creates them for the user it becomes, so that
        // it can write its database and remove its socket after the drop.
        var socket = Path.Combine(sandbox.Directory, "run", "milter.sock");
        var database = Path.Combine(sandbox.Directory, "data", "milterhost.db");
        await using var daemon = await sandbox.StartAsync(new DaemonConfig { Listen = "unix:" + socket, User = user, Database = "sqlite:" + database });

        var status = await File.ReadAllLinesAsync($"/proc/{daemon.Pid}/status");
        Assert.Equal($"Uid:\t{uid}\t{uid}\t{uid}\t{uid}", status.Single(l => l.StartsWith("Uid:", StringComparison.Ordinal)));
        Assert.Equal($"Gid:\t{gid}\t{gid}\t{gid}\t{gid}", status.Single(l => l.StartsWith("Gid:", StringComparison.Ordinal)));
        Assert.Contains(daemon.Output, l => l.Contains($"dropped privileges to {user} (uid {uid}, gid {gid})", StringComparison.Ordinal));
        Assert.Equal($"{user} {user}", await RunAsync("stat", "-c", "%U %G", database));

        var answers = await Mta.SendMessageAsync(new UnixDomainSocketEndPoint(socket));
        Assert.Equal(ReplyCode.Continue, answers.EndOfMessage!.Code);

        daemon.Signal("TERM");
        Assert.Equal(0, await daemon.WaitForExitAsync(Bound));
        Assert.False(File.Exists(socket), string.Join('\n', daemon.Output));
    }

    [Fact]
    public async Task The_log_file_is_opened_as_the_user_it_drops_to_even_when_the_config_has_warnings()
    {
        // Found in review: the start's config warnings were logged before the drop, so log.file was
        // opened (and created) by root, which the user's logrotate could then not rotate.
        await using var account = await TestAccounts.CreateAsync("mhlog");
        using var sandbox = new DaemonSandbox("privlog");
        var logs = Path.Combine(sandbox.Directory, "log");
        Directory.CreateDirectory(logs);
        await RunAsync("chown", $"{account.Name}:{account.Name}", logs);
        var log = Path.Combine(logs, "milterhost.log");
        var config = sandbox.Write(new DaemonConfig
        {
            User = account.Name,
            Database = "sqlite:" + Path.Combine(sandbox.Directory, "data", "milterhost.db"),
            Log = $"{{ level: debug, syslog: false, file: {log} }}",
            LocalDomains = "[]", // warned about at start
        });
        // With a log file and no terminal, the start line goes to the file only.
        await using var daemon = await MilterHostProcess.StartAsync(config, null, waitUntilReady: false);
        var deadline = DateTime.UtcNow + Bound;
        while (!(File.Exists(log) && (await File.ReadAllTextAsync(log)).Contains(" started: ", StringComparison.Ordinal)) && DateTime.UtcNow < deadline)
            await Task.Delay(50);

        daemon.Signal("TERM");
        Assert.Equal(0, await daemon.WaitForExitAsync(Bound));
        Assert.Equal($"{account.Name} {account.Name}", (await RunAsync("stat", "-c", "%U %G", log)).Trim());
        Assert.Contains("warning: local_domains is empty", await File.ReadAllTextAsync(log), StringComparison.Ordinal);
    }

    /// <summary>
    /// As the systemd unit starts it: the unprivileged user, with the socket's group as a supplementary
    /// group only. Such a process cannot create files with that group id; the socket is handed over
    /// through a descriptor of the socket file itself.
    /// </summary>
    [Fact]
    public async Task Started_unprivileged_the_socket_goes_to_a_supplementary_group()
    {
        await using var account = await TestAccounts.CreateAsync("mhsupp");
        var (testUser, uid, gid) = (account.Name, account.Uid, account.Gid);
        using var sandbox = new DaemonSandbox("suppgroup");
        await RunAsync("chown", $"{testUser}:{testUser}", sandbox.Directory);
        string[] launcher = ["setpriv", $"--reuid={uid}", $"--regid={gid}", "--groups=mail", "--inh-caps=-all"];

        await using var daemon = await sandbox.StartAsync(new DaemonConfig { User = testUser, Socket = "{ mode: \"0660\", group: mail }" }, launcher: launcher);

        Assert.Contains(daemon.Output, l => l.Contains($"running as {testUser} (uid {uid})", StringComparison.Ordinal));
        Assert.Equal($"660 {testUser} mail", await RunAsync("stat", "-c", "%a %U %G", sandbox.SocketPath));
        var answers = await Mta.SendMessageAsync(sandbox.Endpoint);
        Assert.Equal(ReplyCode.Continue, answers.EndOfMessage!.Code);
    }

    [Fact]
    public async Task Refuses_to_run_as_root_without_a_user_setting()
    {
        using var sandbox = new DaemonSandbox("noroot");
        // Socket and database in a folder that does not exist yet, as README's ./var/.
        var folder = Path.Combine(sandbox.Directory, "var");
        var config = sandbox.Write(new DaemonConfig { User = null, Listen = $"unix:{folder}/milter.sock", Database = $"sqlite:{folder}/milterhost.db" });

        var (exitCode, _, stderr) = await MilterHostProcess.RunToEndAsync(["run", "--config", config], Bound);

        Assert.Equal(1, exitCode);
        Assert.Contains("milterhost: not starting: refusing to run filters as root: set user: to an unprivileged account (or write user: root to insist)", stderr, StringComparison.Ordinal);
        // Said once: the console log does not repeat the plain line.
        Assert.Single(stderr.Split('\n'), line => line.Contains("not starting", StringComparison.Ordinal));
        Assert.False(File.Exists(sandbox.SocketPath), "the refused start left its socket file");
        // Nothing created: a root-owned folder left behind would refuse the next start as another user.
        Assert.False(Directory.Exists(folder), "the refused start created the socket's folder");
    }

    [Fact]
    public async Task Refuses_to_start_on_a_database_its_user_cannot_write_and_says_whose_it_is()
    {
        // Found in review: a database left root's (copied back from a backup by root, say) opened
        // read-only without a word; the daemon said "started" and then failed every greylist write.
        await using var account = await TestAccounts.CreateAsync("mhro");
        using var sandbox = new DaemonSandbox("rodb");
        var data = Path.Combine(sandbox.Directory, "data");
        var database = Path.Combine(data, "milterhost.db");
        Directory.CreateDirectory(data);
        await RunAsync("chown", $"{account.Name}:{account.Name}", data);
        var config = sandbox.Write(new DaemonConfig { User = account.Name, Database = "sqlite:" + database });
        var (made, _, madeError) = await MilterHostProcess.RunToEndAsync(["ban", "add", "192.0.2.1", "--config", config], Bound);
        Assert.True(made == 0, madeError);
        await RunAsync("chown", "root:root", database);
        await RunAsync("chmod", "0644", database);

        var (exitCode, _, stderr) = await MilterHostProcess.RunToEndAsync(["run", "--config", config], Bound);

        Assert.Equal(1, exitCode);
        Assert.Contains($"milterhost: not starting: sqlite:{database}: user {account.Name} (uid {account.Uid}) cannot write this file (owner root, mode 0644)", stderr, StringComparison.Ordinal);
    }

    private static async Task<string> RunAsync(string program, params string[] arguments)
    {
        var (code, output) = await TryRunAsync(program, arguments);
        Assert.True(code == 0, $"{program} {string.Join(' ', arguments)} failed ({code}): {output}");
        return output;
    }

    private static async Task<(int ExitCode, string Output)> TryRunAsync(string program, params string[] arguments)
    {
        using var process = Process.Start(new ProcessStartInfo(program, arguments)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        })!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return (process.ExitCode, ((await stdout) + (await stderr)).Trim());
    }
}
