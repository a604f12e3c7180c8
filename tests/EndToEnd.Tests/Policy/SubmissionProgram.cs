using System.Diagnostics;
using System.Text;
using Milter.TestSupport;

namespace EndToEnd.Tests.Policy;

/// <summary>
/// Debian's sendmail submission program (the set-group-id <c>/usr/sbin/sendmail</c>, reading
/// <c>/etc/mail/submit.cf</c>, running as <c>smmsp</c> when root calls it) pointed at a private
/// MTA: a submit.cf of its own with its own client queue, bind-mounted over /etc/mail/submit.cf in a
/// private mount namespace for each call. The real binary keeps its real privileges for every
/// caller, which <c>-C</c> would take away.
/// </summary>
public sealed class SubmissionProgram
{
    private const string SystemSubmitCf = "/etc/mail/submit.cf";
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    private readonly PrivateSendmail _mta;

    private SubmissionProgram(PrivateSendmail mta, string directory)
    {
        _mta = mta;
        Directory = directory;
    }

    /// <summary>The folder of submit.cf and the client queue (<c>queue/</c>).</summary>
    public string Directory { get; }

    public string QueueDirectory => Path.Combine(Directory, "queue");

    private string SubmitCf => Path.Combine(Directory, "submit.cf");

    /// <summary>Writes submit.cf for <paramref name="mta"/>'s port and the client queue, owned by smmsp as Debian makes it.</summary>
    public static async Task<SubmissionProgram> CreateAsync(PrivateSendmail mta)
    {
        var program = new SubmissionProgram(mta, Path.Combine(mta.Directory, "msp"));
        System.IO.Directory.CreateDirectory(program.QueueDirectory);
        var mc = Path.Combine(program.Directory, "submit.mc");
        File.WriteAllText(mc, $"""
            include(`/usr/share/sendmail/cf/m4/cf.m4')dnl
            OSTYPE(`debian')dnl
            DOMAIN(`debian-msp')dnl
            define(`MSP_QUEUE_DIR', `{program.QueueDirectory}')dnl
            define(`STATUS_FILE', `{Path.Combine(program.Directory, "sm-client.st")}')dnl
            define(`confPID_FILE', `{Path.Combine(program.Directory, "sendmail.pid")}')dnl
            define(`confCONTROL_SOCKET_NAME', `{Path.Combine(program.Directory, "smcontrol")}')dnl
            define(`confDOMAIN_NAME', `{SendmailOptions.HostName}')dnl
            define(`confDONT_PROBE_INTERFACES', `True')dnl
            define(`confBIND_OPTS', `-DNSRCH -DEFNAMES')dnl
            define(`confDEAD_LETTER_DROP', `{Path.Combine(program.Directory, "dead.letter")}')dnl
            define(`confQUEUE_LA', `999')dnl
            define(`confDELAY_LA', `0')dnl
            define(`confSERVICE_SWITCH_FILE', `{Path.Combine(mta.Directory, "service.switch")}')dnl
            define(`RELAY_MAILER_ARGS', `TCP $h {mta.Port}')dnl
            FEATURE(`msp', `[127.0.0.1]')dnl

            """);
        var cf = await RunAsync("m4", [mc], null);
        Assert.True(cf.ExitCode == 0, cf.ToString());
        File.WriteAllText(program.SubmitCf, cf.Output);
        foreach (var (tool, args) in new[]
        {
            ("chown", new[] { "smmsp:smmsp", program.QueueDirectory }),
            ("chmod", new[] { "2770", program.QueueDirectory }),
        })
        {
            var result = await RunAsync(tool, args, null);
            Assert.True(result.ExitCode == 0, result.ToString());
        }
        return program;
    }

    /// <summary>
    /// <c>sendmail -t -oi -odi -f SENDER</c> as <paramref name="user"/> (null: root), the message on
    /// standard input; returns once the submission program is done with it (delivered or queued).
    /// </summary>
    public Task<Outcome> SendAsync(string? user, string sender, string message) =>
        RunInNamespaceAsync(user, ["/usr/sbin/sendmail", "-t", "-oi", "-odi", "-f", sender], message);

    /// <summary>One run of the client queue in the foreground as root, which the submission program does as smmsp (as Debian's cron job does).</summary>
    public Task<Outcome> RunQueueAsync() => RunInNamespaceAsync(null, ["/usr/sbin/sendmail", "-Ac", "-qf"], null);

    /// <summary>How many messages in the client queue are for <paramref name="recipient"/>.</summary>
    public int QueuedFor(string recipient) =>
        System.IO.Directory.GetFiles(QueueDirectory, "qf*").Count(f => File.ReadAllText(f).Contains($":{recipient}\n", StringComparison.Ordinal));

    /// <summary>Runs <paramref name="command"/> as <paramref name="user"/> (null: root) with the private submit.cf and maillog in place.</summary>
    public Task<Outcome> RunInNamespaceAsync(string? user, IReadOnlyList<string> command, string? input)
    {
        IEnumerable<string> asUser = user is null ? command : ["setpriv", $"--reuid={user}", $"--regid={user}", "--init-groups", .. command];
        // Paths travel as positional parameters, so nothing needs shell quoting.
        var log = _mta.Log.UsesPrivateNamespace ? "mount --bind \"$2\" /dev/log && " : "";
        return RunAsync("unshare",
            ["-m", "sh", "-c", $"mount --bind \"$1\" {SystemSubmitCf} && {log}shift 2 && exec \"$@\"", "sh", SubmitCf, _mta.Log.SocketPath, .. asUser],
            input);
    }

    private static async Task<Outcome> RunAsync(string program, IEnumerable<string> arguments, string? input)
    {
        var start = new ProcessStartInfo(program)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
            start.ArgumentList.Add(argument);
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.StandardInput.WriteAsync(input ?? "");
        process.StandardInput.Close();
        using var cts = new CancellationTokenSource(Timeout);
        await process.WaitForExitAsync(cts.Token);
        return new Outcome(process.ExitCode, await output, await error, string.Join(' ', start.ArgumentList));
    }

    /// <summary>How a command ended: exit code and what it wrote.</summary>
    public sealed record Outcome(int ExitCode, string Output, string Error, string Command)
    {
        public override string ToString() => new StringBuilder()
            .AppendLine($"{Command}: exit {ExitCode}").AppendLine(Output).AppendLine(Error).ToString();
    }
}
