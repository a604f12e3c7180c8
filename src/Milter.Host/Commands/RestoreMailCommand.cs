using System.CommandLine;
using System.Globalization;
using MilterHost.Tools;
using MilterHost.Tools.Backup;

namespace MilterHost.Commands;

/// <summary><c>milterhost restore-mail</c>: append backed-up messages missing from the live mboxes, under the MTA's locks.</summary>
public static class RestoreMailCommand
{
    /// <summary>The command as the binary runs it, on the real clock.</summary>
    public static Command Create() => Create(TimeProvider.System);

    /// <param name="timeProvider">Times the lock waits.</param>
    public static Command Create(TimeProvider timeProvider)
    {
        var from = new Option<string>("--from") { Description = "The dated backup folder to restore from (DEST/YYYY-MM-DD, or DEST/YYYY-MM-DD.HHMMSS for a later run that day).", HelpName = "DIR", Required = true };
        var users = new Option<string[]>("--user") { Description = "Restore only this user's mailbox (repeatable); default: every mailbox of the backup.", HelpName = "U" };
        var spool = new Option<string>("--spool") { Description = "The live mbox spool, one file per user.", HelpName = "DIR", DefaultValueFactory = _ => "/var/mail" };
        var lockTimeout = CommandOptions.Duration("--lock-timeout", TimeSpan.FromSeconds(30),
            "How long to wait for a mailbox another process has locked; then it is left alone (exit 1).");
        var dryRun = new Option<bool>("--dry-run") { Description = "Count what would be appended; write nothing." };
        var json = new Option<bool>("--json") { Description = "Write JSON instead of a table." };

        var command = new Command("restore-mail",
            "Append the backed-up messages missing from each live mbox (by Message-ID and a hash of the body, else by a hash of the whole message), "
            + "under the locks the MTA and mail clients honour; the live mbox is only appended to (a write that fails is cut back to the last whole message), and only when it belongs to the uid backed up for its user and has no other hard link.")
        {
            from, users, spool, lockTimeout, dryRun, json,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var output = parse.InvocationConfiguration.Output;
            var error = parse.InvocationConfiguration.Error;
            var options = new RestoreOptions
            {
                From = parse.GetValue(from)!,
                Spool = parse.GetValue(spool)!,
                Users = parse.GetValue(users) ?? [],
                DryRun = parse.GetValue(dryRun),
                Locking = new MailboxLockOptions { Timeout = parse.GetValue(lockTimeout).Value },
            };
            RestoreReport report;
            try
            {
                report = await new MailRestore(timeProvider).RunAsync(options, cancellationToken);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                // SIGTERM or SIGINT: whole messages appended so far stay (a second run does not append them
                // again); the mailbox being restored was unlocked on the way out.
                await error.WriteLineAsync("restore-mail: stopped before it finished; run it again to append what is still missing");
                return 1;
            }
            if (report.Fatal is not null)
            {
                await error.WriteLineAsync($"restore-mail: {report.Fatal}");
                return report.ExitCode;
            }
            if (parse.GetValue(json))
                await output.WriteLineAsync(ToJson(options, report));
            else
                Write(output, options, report);
            foreach (var failed in report.Mailboxes.Where(m => m.Failure is not null))
                await error.WriteLineAsync($"restore-mail: {Logging.PrintableText.Of(failed.User)} not restored: {Logging.PrintableText.Of(failed.Failure ?? "")}");
            return report.ExitCode;
        });
        return command;
    }

    private static void Write(TextWriter output, RestoreOptions options, RestoreReport report)
    {
        var table = new TextTable("USER", "IN BACKUP", "IN MAILBOX", options.DryRun ? "WOULD APPEND" : "APPENDED", "STATUS").AlignRight(1, 2, 3);
        foreach (var mailbox in report.Mailboxes)
        {
            var status = mailbox.Failure is not null ? "failed: " + mailbox.Failure
                : mailbox.Created ? (options.DryRun ? "mailbox would be created" : "mailbox created")
                : mailbox.Appended > 0 ? (options.DryRun ? "would restore" : "restored")
                : "nothing missing";
            table.Add(mailbox.User,
                mailbox.BackupMessages.ToString(CultureInfo.InvariantCulture),
                mailbox.Failure is null ? mailbox.LiveMessages.ToString(CultureInfo.InvariantCulture) : "-",
                mailbox.Failure is null || mailbox.Appended > 0 ? mailbox.Appended.ToString(CultureInfo.InvariantCulture) : "-",
                status);
        }
        table.WriteTo(output);
        var appended = report.Mailboxes.Sum(m => m.Appended);
        var into = report.Mailboxes.Count(m => m.Appended > 0);
        output.WriteLine(options.DryRun
            ? $"Dry run: would append {appended} message(s) to {into} mailbox(es) in {options.Spool} from {options.From}."
            : $"Appended {appended} message(s) to {into} mailbox(es) in {options.Spool} from {options.From}.");
    }

    private static string ToJson(RestoreOptions options, RestoreReport report) => JsonText.Write(json =>
    {
        json.WriteStartObject();
        json.WriteString("from", options.From);
        json.WriteString("spool", options.Spool);
        json.WriteBoolean("dry_run", options.DryRun);
        json.WriteStartArray("mailboxes");
        foreach (var mailbox in report.Mailboxes)
        {
            json.WriteStartObject();
            json.WriteString("user", mailbox.User);
            json.WriteNumber("backup_messages", mailbox.BackupMessages);
            json.WriteNumber("live_messages", mailbox.LiveMessages);
            json.WriteNumber("appended", mailbox.Appended);
            json.WriteNumber("appended_bytes", mailbox.AppendedBytes);
            json.WriteBoolean("created", mailbox.Created);
            if (mailbox.Failure is null)
                json.WriteNull("error");
            else
                json.WriteString("error", mailbox.Failure);
            json.WriteEndObject();
        }
        json.WriteEndArray();
        json.WriteEndObject();
    });
}
