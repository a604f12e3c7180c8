using System.Globalization;
using System.Text;
using EndToEnd.Tests.Support;

namespace EndToEnd.Tests.SendmailCf;

/// <summary>
/// Builds sendmail.cf files from the repository's sendmail-cf fragments with the real cf.m4, and
/// runs a private sendmail on one: its own queue, maps and aliases under
/// /var/lib/milterhost-test (sendmail refuses maps below a world-writable /tmp), no DNS, no
/// daemon. A minimal cousin of TestSupport's PrivateSendmail, which the lead may switch these
/// tests to; it needs no listening port because these tests speak SMTP over -bs or run the queue.
/// </summary>
internal sealed class CfSandbox : IDisposable
{
    public const string CfM4 = "/usr/share/sendmail/cf/m4/cf.m4";
    public const string Sendmail = "/usr/sbin/sendmail";
    private const string LinuxOnly = "A private sendmail needs Linux (Debian's sendmail-bin).";
    private const string SandboxRoot = "/var/lib/milterhost-test";
    private static readonly TimeSpan ToolTimeout = TimeSpan.FromSeconds(60);

    private CfSandbox(string directory) => Directory = directory;

    /// <summary>The sandbox folder; it is also MAIL_SETTINGS_DIR, so FEATURE maps without arguments live here.</summary>
    public string Directory { get; }

    public string Cf => Path.Combine(Directory, "sendmail.cf");

    public string Queue => Path.Combine(Directory, "queue");

    /// <summary>A fragment as the package installs it, from this checkout.</summary>
    public static string Fragment(string name) => Path.Combine(Repository.Root, "sendmail-cf", name);

    /// <summary><c>include(`PATH')dnl</c> for a fragment.</summary>
    public static string Include(string fragment) => $"include(`{Fragment(fragment)}')dnl";

    /// <summary><c>define(`NAME', `VALUE')dnl</c>.</summary>
    public static string Define(string name, string value) => $"define(`{name}', `{value}')dnl";

    /// <summary>
    /// The smallest sendmail.mc around <paramref name="lines"/>: cf.m4, Debian's OSTYPE and the two
    /// mailers, with every path at its packaged default, as an administrator's file would have them.
    /// </summary>
    public static string MinimalMc(IEnumerable<string> lines, IEnumerable<string>? afterMailers = null) =>
        Mc([Define("confDOMAIN_NAME", "mx.example.com")], lines, afterMailers: afterMailers);

    /// <summary>Runs m4 on an .mc text; the result holds the cf on stdout and m4's complaints on stderr.</summary>
    public static Task<ToolResult> M4Async(string mc) => Tool.RunAsync("m4", ["-"], ToolTimeout, stdin: mc);

    /// <summary>Builds <paramref name="mc"/> and returns the sendmail.cf text, failing with m4's output.</summary>
    public static async Task<string> BuildCfAsync(string mc)
    {
        var result = await M4Async(mc);
        Assert.True(result.ExitCode == 0 && result.Stderr.Length == 0, $"m4 failed or warned:\n{result}");
        return result.Stdout;
    }

    public static CfSandbox Create()
    {
        if (!OperatingSystem.IsLinux())
        {
            throw new PlatformNotSupportedException(LinuxOnly);
        }

        var directory = Path.Combine(SandboxRoot, "sendmail-cf-" + Guid.NewGuid().ToString("N")[..12]);
        System.IO.Directory.CreateDirectory(directory);
        var sandbox = new CfSandbox(directory);
        sandbox.WriteFile("service.switch", "hosts files\naliases files\npasswd files\n");
        sandbox.WriteFile("aliases", "postmaster: root\nMAILER-DAEMON: postmaster\nalice: root\n");
        sandbox.WriteFile("local-host-names", "example.com\nmx.example.com\n");
        System.IO.Directory.CreateDirectory(sandbox.Queue, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        System.IO.Directory.CreateDirectory(Path.Combine(directory, "host-status"));
        return sandbox;
    }

    public void WriteFile(string name, string content, UnixFileMode mode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead)
    {
        if (!OperatingSystem.IsLinux())
        {
            throw new PlatformNotSupportedException(LinuxOnly);
        }

        var path = Path.Combine(Directory, name);
        File.WriteAllText(path, content);
        File.SetUnixFileMode(path, mode);
    }

    /// <summary>Writes a map's source and builds it with makemap, as an administrator would.</summary>
    public async Task WriteMapAsync(string name, string content)
    {
        WriteFile(name, content, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        await Tool.RunCheckedAsync("makemap", ["hash", Path.Combine(Directory, name)], ToolTimeout, stdin: content);
    }

    /// <summary>Writes sendmail.mc with <paramref name="lines"/> on the sandbox's settings, builds sendmail.cf and the aliases.</summary>
    public async Task BuildAsync(IEnumerable<string> lines)
    {
        var mc = Mc(SandboxSettings(), lines, mailSettingsDirectory: Directory + "/");
        WriteFile("sendmail.mc", mc);
        File.WriteAllText(Cf, await BuildCfAsync(mc));
        await Tool.RunCheckedAsync(Sendmail, ["-C", Cf, "-bi"], ToolTimeout);
    }

    /// <summary>Runs this sandbox's sendmail with <c>-C sendmail.cf</c> and the given arguments.</summary>
    public Task<ToolResult> SendmailAsync(IEnumerable<string> arguments, string? stdin = null) =>
        Tool.RunAsync(Sendmail, arguments.Prepend(Cf).Prepend("-C"), ToolTimeout, stdin, Directory);

    /// <summary>Queue ids of the messages waiting in the queue (one qf file each).</summary>
    public IReadOnlyList<string> QueuedIds() =>
        [.. System.IO.Directory.EnumerateFiles(Queue, "qf*").Select(f => Path.GetFileName(f)[2..]).Order(StringComparer.Ordinal)];

    public void Dispose()
    {
        if (System.IO.Directory.Exists(Directory))
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
    }

    private IEnumerable<string> SandboxSettings()
    {
        string In(string name) => Path.Combine(Directory, name);
        yield return Define("confDOMAIN_NAME", "mx.example.com");
        // No DNS anywhere: names from files only, no interface probing, no domain search.
        yield return Define("confDONT_PROBE_INTERFACES", "True");
        yield return Define("confSERVICE_SWITCH_FILE", In("service.switch"));
        yield return Define("confBIND_OPTS", "-DNSRCH -DEFNAMES");
        yield return Define("confTO_IDENT", "0s");
        yield return Define("QUEUE_DIR", Queue);
        yield return Define("confPID_FILE", In("sendmail.pid"));
        yield return Define("STATUS_FILE", In("sendmail.st"));
        yield return Define("confHOST_STATUS_DIRECTORY", In("host-status"));
        yield return Define("ALIAS_FILE", In("aliases"));
        yield return Define("confCW_FILE", In("local-host-names"));
        yield return Define("confDEAD_LETTER_DROP", In("dead.letter"));
        // A busy build machine must not make sendmail queue or refuse for load.
        yield return Define("confQUEUE_LA", "999");
        yield return Define("confREFUSE_LA", "999");
        yield return "FEATURE(`no_default_msa')dnl";
        yield return "FEATURE(`nocanonify')dnl";
        yield return "FEATURE(`use_cw_file')dnl";
        // Sender domains such as remote.example resolve nowhere; sendmail would refuse them at MAIL.
        yield return "FEATURE(`accept_unresolvable_domains')dnl";
    }

    private static string Mc(
        IEnumerable<string> settings, IEnumerable<string> lines, string? mailSettingsDirectory = null, IEnumerable<string>? afterMailers = null)
    {
        var mc = new StringBuilder();
        mc.Append("divert(-1)\ndivert(0)dnl\n");
        if (mailSettingsDirectory is not null)
        {
            // Before cf.m4: every map a FEATURE declares without a path then lives in the sandbox.
            mc.Append(CultureInfo.InvariantCulture, $"{Define("MAIL_SETTINGS_DIR", mailSettingsDirectory)}\n");
        }

        mc.Append(CultureInfo.InvariantCulture, $"include(`{CfM4}')dnl\n");
        mc.Append("OSTYPE(`debian')dnl\n");
        foreach (var line in settings.Concat(lines))
        {
            mc.Append(line).Append('\n');
        }

        mc.Append("MAILER(`local')dnl\nMAILER(`smtp')dnl\n");
        foreach (var line in afterMailers ?? [])
        {
            mc.Append(line).Append('\n');
        }

        return mc.ToString();
    }
}
