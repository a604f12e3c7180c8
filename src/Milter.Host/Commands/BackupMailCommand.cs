using System.CommandLine;
using System.Globalization;
using MilterHost.Tools.Backup;
using MilterHost.Tools;

namespace MilterHost.Commands;

/// <summary><c>milterhost backup-mail</c>: copy the mbox spool under the MTA's locks into dated, rotated backups.</summary>
public static class BackupMailCommand
{
    /// <summary>The command as the binary runs it, on the real clock.</summary>
    public static Command Create() => Create(TimeProvider.System);

    /// <param name="timeProvider">Names the dated folder and times the lock waits.</param>
    public static Command Create(TimeProvider timeProvider)
    {
        var spool = new Option<string>("--spool") { Description = "The mbox spool, one file per user.", HelpName = "DIR", DefaultValueFactory = _ => "/var/mail" };
        var dest = new Option<string>("--dest") { Description = "Where dated backup folders go: DIR/YYYY-MM-DD, and DIR/YYYY-MM-DD.HHMMSS (-2, -3 ... within one second) for a later run the same day; a run never replaces an earlier run's copies.", HelpName = "DIR", DefaultValueFactory = _ => "/var/backups/milterhost" };
        var keep = new Option<int?>("--keep")
        {
            Description = "Keep the newest N complete dated folders and the folders of each mailbox's newest N verified copies; prune only after a run whose copies all verified (implies --verify).",
            HelpName = "N",
        };
        keep.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<int?>() is < 1)
                r.AddError("--keep must be 1 or more.");
        });
        var lockTimeout = CommandOptions.Duration("--lock-timeout", TimeSpan.FromSeconds(30),
            "How long to wait for a mailbox another process has locked; then it is skipped (exit 1).");
        var verify = new Option<bool>("--verify") { Description = "Re-read the backup just written and check counts and hashes." };
        var verifyOnly = new Option<bool>("--verify-only") { Description = "Take no backup; check the newest dated folder against its manifest (exit 1 also when the run that wrote it was incomplete)." };

        var command = new Command("backup-mail", "Back up /var/mail mailboxes consistently, under the locks the MTA and mail clients honour.")
        {
            spool, dest, keep, lockTimeout, verify, verifyOnly,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var output = parse.InvocationConfiguration.Output;
            var error = parse.InvocationConfiguration.Error;
            var destination = parse.GetValue(dest)!;
            if (parse.GetValue(verifyOnly))
                return await VerifyNewestAsync(destination, output, error, cancellationToken);

            var options = new BackupOptions
            {
                Spool = parse.GetValue(spool)!,
                Destination = destination,
                Keep = parse.GetValue(keep),
                Verify = parse.GetValue(verify),
                Locking = new MailboxLockOptions { Timeout = parse.GetValue(lockTimeout).Value },
            };
            BackupReport report;
            try
            {
                report = await new MailBackup(timeProvider).RunAsync(options, cancellationToken);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                // SIGTERM or SIGINT: the mailbox being copied was unlocked on the way out.
                await error.WriteLineAsync("backup-mail: stopped before it finished; this run is incomplete and pruned nothing");
                return 1;
            }
            if (report.Fatal is not null)
            {
                await error.WriteLineAsync($"backup-mail: {report.Fatal}");
                return report.ExitCode;
            }
            Write(output, report, options.Keep is not null);
            foreach (var ignored in report.Ignored)
                // Spool names are chosen by the users who own the files: one line each, whatever they hold.
                await error.WriteLineAsync($"backup-mail: ignored {Logging.PrintableText.Of(ignored)}");
            foreach (var skipped in report.Mailboxes.Where(m => m.Skipped is not null))
                await error.WriteLineAsync($"backup-mail: skipped {Logging.PrintableText.Of(skipped.User)}: {Logging.PrintableText.Of(skipped.Skipped ?? "")}");
            return report.ExitCode;
        });
        return command;
    }

    private static void Write(TextWriter output, BackupReport report, bool pruning)
    {
        if (report.Mailboxes.Count > 0)
        {
            var table = new TextTable("USER", "MESSAGES", "BYTES", "STATUS").AlignRight(1, 2);
            foreach (var mailbox in report.Mailboxes)
            {
                var status = mailbox.Entry is not null ? "backed up" : "skipped: " + mailbox.Skipped;
                if (mailbox.RemovedStaleDotLock)
                    status += " (removed a stale dot-lock)";
                table.Add(mailbox.User,
                    mailbox.Entry?.Messages.ToString(CultureInfo.InvariantCulture) ?? "-",
                    mailbox.Entry?.Bytes.ToString(CultureInfo.InvariantCulture) ?? "-",
                    status);
            }
            table.WriteTo(output);
        }
        var done = report.Mailboxes.Count(m => m.Entry is not null);
        output.WriteLine($"Backed up {done} of {report.Mailboxes.Count} mailbox(es) to {report.Folder}.");
        if (report.VerifyProblems is { } problems)
            WriteVerification(output, done, problems);
        if (report.Pruned.Count > 0)
            output.WriteLine($"Removed old backups: {string.Join(", ", report.Pruned)}.");
        foreach (var (folder, mailboxes) in report.KeptFor)
            output.WriteLine($"Kept {folder} for the newest copies of {string.Join(", ", mailboxes)} (skipped by this run).");
        if (pruning && report.Mailboxes.Count == 0)
            output.WriteLine("Not pruning: no mailbox found in the spool.");
        else if (pruning && report.VerifyProblems is not { Count: 0 })
            output.WriteLine("Not pruning: verify found problems.");
    }

    private static void WriteVerification(TextWriter output, int mailboxes, IReadOnlyList<string> problems)
    {
        if (problems.Count == 0)
        {
            output.WriteLine($"Verified {mailboxes} mailbox(es): all match the manifest.");
            return;
        }
        output.WriteLine($"Verify found {problems.Count} problem(s):");
        foreach (var problem in problems)
            output.WriteLine("  " + problem);
    }

    private static async Task<int> VerifyNewestAsync(string destination, TextWriter output, TextWriter error, CancellationToken cancellationToken)
    {
        var newest = Directory.Exists(destination)
            ? BackupRotation.RunFolders(destination).Select(d => d.Folder).FirstOrDefault()
            : null;
        if (newest is null)
        {
            await error.WriteLineAsync($"backup-mail: no dated backup folder in {destination}");
            return 2;
        }
        var problems = await BackupVerifier.VerifyAsync(newest.FullName, null, cancellationToken);
        await output.WriteLineAsync($"Checked {newest.FullName}.");
        var count = problems.Count == 0 ? BackupManifest.Read(newest.FullName).Mailboxes.Count : 0;
        WriteVerification(output, count, problems);
        // What is there matches, but a run that skipped a mailbox is no backup of the spool: monitoring must see it.
        if (problems.Count == 0 && !BackupManifest.IsComplete(newest.FullName))
        {
            await output.WriteLineAsync("The run that wrote it was incomplete (a mailbox was skipped): not every mailbox is backed up.");
            return 1;
        }
        return problems.Count == 0 ? 0 : 1;
    }
}
