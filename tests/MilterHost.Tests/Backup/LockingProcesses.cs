using System.Diagnostics;

namespace MilterHost.Tests.Backup;

/// <summary>
/// Other processes that take a mailbox's locks the way a delivery agent does: the dot-lock with
/// O_CREAT|O_EXCL, then a classic fcntl write lock (F_SETLKW) on the whole file, or a flock alone. perl-base is part of
/// every Debian system and its Fcntl module speaks fcntl directly (struct flock packed for 64-bit Linux).
/// </summary>
internal sealed class LockingProcess : IDisposable
{
    private const string Prelude = """
        use strict; use warnings; use Fcntl;
        $| = 1;
        sub nap { select(undef, undef, undef, $_[0]); }
        sub write_lock { my ($fh) = @_; my $request = pack('s s x4 q q l x4', F_WRLCK, 0, 0, 0, 0); fcntl($fh, F_SETLKW, $request) or die "fcntl: $!"; }
        sub dot_lock { my ($path) = @_; my $l; until (sysopen($l, $path, O_WRONLY | O_CREAT | O_EXCL, 0644)) { nap(0.001); } print $l "$$\n"; close($l); }
        """;

    // Appends messages first..last, each under both locks and written in three pieces with pauses, so a
    // reader ignoring the locks would catch half a message.
    private const string Appender = Prelude + """
        my ($mbox, $first, $last, $pause) = @ARGV;
        print "started\n";
        for my $i ($first .. $last) {
            dot_lock("$mbox.lock");
            open(my $fh, '>>', $mbox) or die "open: $!";
            write_lock($fh);
            syswrite($fh, "From writer\@example.com Sat Nov 28 06:25:01 2026\nSubject: message $i\n\n");
            nap($pause);
            syswrite($fh, "body of message $i\n");
            nap($pause);
            syswrite($fh, "END $i\n\n");
            close($fh);
            unlink("$mbox.lock");
            nap($pause);
        }
        print "done\n";
        """;

    // Holds the fcntl write lock, or with "flock" a flock alone (mutt or procmail built to use it), no
    // dot-lock, until its standard input closes.
    private const string Holder = Prelude + """
        use Fcntl qw(:flock);
        my ($mbox, $how) = @ARGV;
        open(my $fh, '>>', $mbox) or die "open: $!";
        if ($how eq 'flock') { flock($fh, LOCK_EX) or die "flock: $!"; } else { write_lock($fh); }
        print "locked\n";
        my $ignored = <STDIN>;
        close($fh);
        """;

    private readonly Process _process;

    private LockingProcess(string script, params string[] args)
    {
        var start = new ProcessStartInfo("perl") { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add("-e");
        start.ArgumentList.Add(script);
        foreach (var arg in args)
            start.ArgumentList.Add(arg);
        _process = Process.Start(start)!;
    }

    public static async Task<LockingProcess> AppendAsync(string mbox, int first, int last, TimeSpan pause)
    {
        var process = new LockingProcess(Appender, mbox, first.ToString(), last.ToString(),
            pause.TotalSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture));
        await process.ExpectAsync("started");
        return process;
    }

    public static async Task<LockingProcess> HoldWriteLockAsync(string mbox)
    {
        var process = new LockingProcess(Holder, mbox, "fcntl");
        await process.ExpectAsync("locked");
        return process;
    }

    public static async Task<LockingProcess> HoldFlockAsync(string mbox)
    {
        var process = new LockingProcess(Holder, mbox, "flock");
        await process.ExpectAsync("locked");
        return process;
    }

    public bool HasExited => _process.HasExited;

    public async Task ExpectAsync(string line)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var read = await _process.StandardOutput.ReadLineAsync(timeout.Token);
        if (read != line)
            Assert.Fail($"perl said '{read}', expected '{line}': {await _process.StandardError.ReadToEndAsync(timeout.Token)}");
    }

    /// <summary>Closes its standard input (the holder lets go) and waits for it to end.</summary>
    public async Task FinishAsync()
    {
        _process.StandardInput.Close();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await _process.WaitForExitAsync(timeout.Token);
        Assert.Equal(0, _process.ExitCode);
    }

    public void Dispose()
    {
        if (!_process.HasExited)
            _process.Kill();
        _process.Dispose();
    }
}
