using System.Diagnostics;
using System.Net.Sockets;
using Milter.TestSupport.Internal;

namespace Milter.TestSupport;

/// <summary>
/// A private Postfix 3.7, Debian's package unpacked beside sendmail (the two packages conflict),
/// listening on a free loopback port with its own config, queue and maillog under
/// /var/lib/milterhost-test/postfix-UNIQUE, its milter pointed at a socket the test names.
/// The package is downloaded and unpacked once into /var/lib/milterhost-test/postfix-pkg and
/// reused by later runs. Needs root (a <c>postfix</c> user and a <c>postdrop</c> group are created).
/// Disposing stops Postfix and deletes the folder. See shared/docs/real-postfix-in-tests.md.
/// </summary>
public sealed class PrivatePostfix : IAsyncDisposable
{
    private const string RootFolder = "/var/lib/milterhost-test";
    private static readonly string PackageFolder = Path.Combine(RootFolder, "postfix-pkg");
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromMinutes(3);
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(20);

    private bool _running;

    private PrivatePostfix(string directory)
    {
        Directory = directory;
    }

    /// <summary>This instance's folder: conf/, queue/, data/ and maillog.</summary>
    public string Directory { get; }

    public int Port { get; private set; }

    /// <summary>Postfix's own log (<c>maillog_file</c>).</summary>
    public string MaillogPath => Path.Combine(Directory, "maillog");

    private string ConfigFolder => Path.Combine(Directory, "conf");

    private string CommandFolder => Path.Combine(Directory, "bin");

    private static string Tree => Path.Combine(PackageFolder, "root");

    /// <summary>The lines of the maillog so far.</summary>
    public IReadOnlyList<string> LogLines
    {
        get
        {
            if (!File.Exists(MaillogPath))
                return [];
            using var stream = new FileStream(MaillogPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            using var reader = new StreamReader(stream);
            return reader.ReadToEnd().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        }
    }

    /// <summary>
    /// Unpacks Postfix if needed, writes a configuration whose <c>smtpd_milters</c> is
    /// <paramref name="milterSocket"/> (<c>unix:/path</c>), starts it and waits until its port answers.
    /// </summary>
    public static async Task<PrivatePostfix> StartAsync(string milterSocket)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(milterSocket);
        if (!LibC.IsRoot)
            throw new InvalidOperationException("A private Postfix needs root: it runs as the postfix user and writes under /var/lib/milterhost-test.");
        await EnsurePackageAsync().ConfigureAwait(false);
        await EnsureAccountsAsync().ConfigureAwait(false);
        var directory = Path.Combine(RootFolder, $"postfix-{Environment.ProcessId}-{Guid.NewGuid():N}"[..32]);
        var postfix = new PrivatePostfix(directory);
        try
        {
            await postfix.StartOnFreePortAsync(milterSocket).ConfigureAwait(false);
            return postfix;
        }
        catch
        {
            await postfix.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private async Task StartOnFreePortAsync(string milterSocket)
    {
        System.IO.Directory.CreateDirectory(ConfigFolder);
        foreach (var owned in new[] { "queue", "data" })
        {
            System.IO.Directory.CreateDirectory(Path.Combine(Directory, owned));
            await RunAsync("chown", ["postfix", Path.Combine(Directory, owned)]).ConfigureAwait(false);
        }
        WriteCommandWrappers();
        Port = FreePort.Next();
        File.WriteAllText(Path.Combine(ConfigFolder, "master.cf"), MasterCf(File.ReadAllText(Path.Combine(Tree, "usr/share/postfix/master.cf.dist")), Port));
        File.WriteAllText(Path.Combine(ConfigFolder, "main.cf"), MainCf(milterSocket));
        await PostfixAsync("start").ConfigureAwait(false);
        _running = true;
        var clock = Stopwatch.StartNew();
        while (!await AnswersAsync(Port).ConfigureAwait(false))
        {
            if (clock.Elapsed > StartTimeout)
                throw new InvalidOperationException($"Postfix did not listen on 127.0.0.1:{Port} within {StartTimeout.TotalSeconds} s; its maillog:\n{string.Join('\n', LogLines)}");
            await Task.Delay(100).ConfigureAwait(false);
        }
    }

    // Postfix's sendmail runs postdrop from command_directory with a cleaned environment, and the
    // unpacked programs find their libraries only through LD_LIBRARY_PATH: each command is a wrapper.
    private void WriteCommandWrappers()
    {
        System.IO.Directory.CreateDirectory(CommandFolder);
        foreach (var program in System.IO.Directory.GetFiles(Path.Combine(Tree, "usr/sbin")))
        {
            var wrapper = Path.Combine(CommandFolder, Path.GetFileName(program));
            File.WriteAllText(wrapper, $"#!/bin/sh\nLD_LIBRARY_PATH={Tree}/usr/lib/postfix exec {program} \"$@\"\n");
            File.SetUnixFileMode(wrapper, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute
                | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        }
    }

    /// <summary>
    /// One message through Postfix's own sendmail command, as root: <paramref name="message"/> to
    /// <paramref name="to"/> from <paramref name="from"/>, which pickup hands to the <c>non_smtpd_milters</c>.
    /// </summary>
    /// <exception cref="InvalidOperationException">The command failed.</exception>
    public async Task SendmailCommandAsync(string from, string to, string message)
    {
        var start = ProcessRunner.StartInfo("sh", ["-c", "printf '%s' \"$1\" | \"$2\" -C \"$3\" -f \"$4\" \"$5\"", "sh",
            message, Path.Combine(CommandFolder, "sendmail"), ConfigFolder, from, to]);
        (await ProcessRunner.RunAsync(start, CommandTimeout, TimeProvider.System, CancellationToken.None).ConfigureAwait(false)).EnsureSuccess();
    }

    /// <summary>Every <c>chroot</c> column to <c>n</c> (the tree is not a chroot), and the smtp inet service on <paramref name="port"/>.</summary>
    private static string MasterCf(string dist, int port) =>
        string.Join('\n', dist.Split('\n').Select(line =>
        {
            if (line.Length == 0 || line.StartsWith('#') || char.IsWhiteSpace(line[0]))
                return line;
            var fields = line.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length < 8)
                return line;
            if (fields[0] == "smtp" && fields[1] == "inet")
                fields[0] = port.ToString(System.Globalization.CultureInfo.InvariantCulture);
            fields[4] = "n";
            return string.Join(' ', fields);
        }));

    private string MainCf(string milterSocket) => $$"""
        compatibility_level = 3.6
        daemon_directory = {{Tree}}/usr/lib/postfix/sbin
        command_directory = {{CommandFolder}}
        meta_directory = {{Tree}}/etc/postfix
        shlib_directory = {{Tree}}/usr/lib/postfix
        queue_directory = {{Directory}}/queue
        data_directory = {{Directory}}/data
        mail_owner = postfix
        setgid_group = postdrop
        import_environment = MAIL_CONFIG MAIL_DEBUG MAIL_LOGTAG TZ LANG=C LD_LIBRARY_PATH={{Tree}}/usr/lib/postfix
        maillog_file = {{MaillogPath}}
        myhostname = mx.example.com
        inet_interfaces = 127.0.0.1, [::1]
        inet_protocols = all
        disable_dns_lookups = yes
        smtp_dns_support_level = disabled
        mydestination =
        alias_maps =
        alias_database =
        relay_domains = static:ALL
        smtpd_relay_restrictions = reject_unauth_destination
        local_recipient_maps =
        defer_transports = local smtp virtual relay
        smtpd_milters = {{milterSocket}}
        non_smtpd_milters = {{milterSocket}}
        milter_protocol = 6
        milter_default_action = tempfail
        milter_connect_macros = j {daemon_name} {client_addr} {client_name} {client_port} v _
        milter_mail_macros = i {auth_type} {auth_authen} {auth_author} {mail_addr} {mail_host} {mail_mailer}
        milter_rcpt_macros = i {rcpt_addr} {rcpt_host} {rcpt_mailer}

        """;

    /// <summary>Waits for a maillog line that <paramref name="matches"/>; throws with the log on timeout.</summary>
    public async Task<string> WaitForLogLineAsync(Func<string, bool> matches, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var line = LogLines.FirstOrDefault(matches);
            if (line is not null)
                return line;
            if (clock.Elapsed > timeout)
                throw new TimeoutException($"No such line in Postfix's maillog within {timeout.TotalSeconds} s:\n{string.Join('\n', LogLines)}");
            await Task.Delay(50).ConfigureAwait(false);
        }
    }

    private static async Task<bool> AnswersAsync(int port)
    {
        using var client = new TcpClient();
        try
        {
            await client.ConnectAsync("127.0.0.1", port).ConfigureAwait(false);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    private Task PostfixAsync(string command) =>
        RunAsync("env", [$"LD_LIBRARY_PATH={Tree}/usr/lib/postfix", Path.Combine(Tree, "usr/sbin/postfix"), "-c", ConfigFolder, command]);

    /// <summary>Downloads and unpacks the package once; a finished unpack is marked so a half one is redone.</summary>
    private static async Task EnsurePackageAsync()
    {
        var done = Path.Combine(PackageFolder, ".unpacked");
        if (File.Exists(done))
            return;
        // Two test processes may get here at once: an exclusive lock file orders them.
        System.IO.Directory.CreateDirectory(RootFolder);
        using var gate = await LockAsync(Path.Combine(RootFolder, "postfix-pkg.lock")).ConfigureAwait(false);
        if (File.Exists(done))
            return;
        if (System.IO.Directory.Exists(PackageFolder))
            System.IO.Directory.Delete(PackageFolder, recursive: true);
        System.IO.Directory.CreateDirectory(PackageFolder);
        await RunAsync("sh", ["-c", "cd \"$1\" && apt-get download postfix", "sh", PackageFolder]).ConfigureAwait(false);
        var deb = System.IO.Directory.GetFiles(PackageFolder, "postfix_*.deb").Single();
        await RunAsync("dpkg", ["-x", deb, Tree]).ConfigureAwait(false);
        File.WriteAllText(done, Path.GetFileName(deb) + "\n");
    }

    private static async Task<FileStream> LockAsync(string path)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException) when (clock.Elapsed < CommandTimeout)
            {
                await Task.Delay(200).ConfigureAwait(false);
            }
        }
    }

    private static async Task EnsureAccountsAsync()
    {
        if ((await ProcessRunner.RunAsync(ProcessRunner.StartInfo("getent", ["group", "postdrop"]), CommandTimeout, TimeProvider.System, CancellationToken.None).ConfigureAwait(false)).ExitCode != 0)
            await RunAsync("groupadd", ["-r", "-f", "postdrop"]).ConfigureAwait(false);
        if ((await ProcessRunner.RunAsync(ProcessRunner.StartInfo("id", ["postfix"]), CommandTimeout, TimeProvider.System, CancellationToken.None).ConfigureAwait(false)).ExitCode != 0)
        {
            var result = await ProcessRunner.RunAsync(ProcessRunner.StartInfo("useradd", ["-r", "-M", "-s", "/usr/sbin/nologin", "postfix"]), CommandTimeout, TimeProvider.System, CancellationToken.None).ConfigureAwait(false);
            // 9: another run created it meanwhile.
            if (result.ExitCode is not (0 or 9))
                result.EnsureSuccess();
        }
    }

    private static async Task RunAsync(string program, IEnumerable<string> arguments)
    {
        var result = await ProcessRunner.RunAsync(ProcessRunner.StartInfo(program, arguments), CommandTimeout, TimeProvider.System, CancellationToken.None).ConfigureAwait(false);
        result.EnsureSuccess();
    }

    public async ValueTask DisposeAsync()
    {
        if (_running)
        {
            _running = false;
            try
            {
                await PostfixAsync("stop").ConfigureAwait(false);
            }
            catch (InvalidOperationException)
            {
                // Best effort: the master's pid file names what to kill.
                KillMaster();
            }
        }
        if (System.IO.Directory.Exists(Directory))
            System.IO.Directory.Delete(Directory, recursive: true);
    }

    private void KillMaster()
    {
        var pidFile = Path.Combine(Directory, "queue/pid/master.pid");
        if (File.Exists(pidFile) && int.TryParse(File.ReadAllText(pidFile).Trim(), out var pid))
        {
            try
            {
                using var master = Process.GetProcessById(pid);
                master.Kill(entireProcessTree: true);
            }
            catch (ArgumentException)
            {
                // Already gone.
            }
        }
    }
}
