using System.Diagnostics;
using System.IO.Compression;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Milter.TestSupport;

namespace MilterHost.Tests.Backup;

public sealed partial class RestoreMailCommandTests : IDisposable
{
    private readonly BackupRun _run = new();

    public void Dispose() => _run.Dispose();

    private static string WithId(string id, string from, string body) =>
        $"From {from} Sat Nov 28 06:25:01 2026\nMessage-ID:\n  <{id}>\nSubject: {id}\n\n{body}\n\n";

    private static readonly string One = WithId("one@example.org", "a@example.org", "first");
    private static readonly string Two = WithId("two@example.org", "b@example.org", "second\n>From quoted\nFrom not after an empty line");
    private static readonly string Three = "From c@example.org Sat Nov 28 06:26:01 2026\nSubject: no id\n\nthird, without a Message-ID\n\n";
    private static readonly string Four = WithId("four@example.org", "d@example.org", "fourth");

    [Fact]
    public async Task Restore_appends_the_messages_the_live_mbox_lost_after_the_mail_that_arrived_since()
    {
        var alice = _run.Mailbox("alice", One + Two + Three + Four);
        var (owner, mode) = await SetOwnershipAsync(alice);
        Assert.Equal(0, (await _run.RunAsync()).Exit);
        // Since the backup: Two and Three were lost, One was delivered again (other From_ line, same
        // Message-ID), and a new message arrived.
        var arrived = WithId("new@example.org", "e@example.org", "arrived after the backup");
        var redelivered = One.Replace("06:25:01", "07:00:00");
        File.WriteAllText(alice, redelivered + Four + arrived);

        var (exit, output, error) = await _run.RestoreAsync();

        Assert.Equal(0, exit);
        Assert.Equal("", error);
        Assert.Equal(redelivered + Four + arrived + Two + Three, File.ReadAllText(alice));
        Assert.Equal((owner, mode), await OwnershipAsync(alice));
        var lines = output.Split('\n');
        Assert.Equal("USER   IN BACKUP  IN MAILBOX  APPENDED  STATUS", lines[0]);
        Assert.Equal("alice          4           3         2  restored", lines[1]);
        Assert.Equal($"Appended 2 message(s) to 1 mailbox(es) in {_run.Spool} from {Path.Combine(_run.Destination, _run.Today)}.", lines[2]);
        Assert.Empty(Directory.GetFiles(_run.Spool, "*.lock"));
    }

    [Fact]
    public async Task A_second_restore_appends_nothing()
    {
        var alice = _run.Mailbox("alice", One + Two + Three);
        await _run.RunAsync();
        File.WriteAllText(alice, Two);
        Assert.Equal(0, (await _run.RestoreAsync()).Exit);
        var restored = File.ReadAllText(alice);
        Assert.Equal(Two + One + Three, restored);

        var (exit, output, _) = await _run.RestoreAsync();

        Assert.Equal(0, exit);
        Assert.Contains("alice          3           3         0  nothing missing", output);
        Assert.Equal(restored, File.ReadAllText(alice));
    }

    [Fact]
    public async Task A_copy_a_mail_reader_marked_read_is_the_same_message_but_another_message_with_its_id_is_not()
    {
        var alice = _run.Mailbox("alice", One + Two);
        await _run.RunAsync();
        // The reader added its Status headers to One; Two was lost, and a different message with
        // Two's Message-ID (a sender that reuses ids) arrived since.
        var read = One.Replace("Subject: one@example.org\n", "Subject: one@example.org\nStatus: RO\nX-Status: A\n");
        var sameId = WithId("two@example.org", "spam@example.net", "not the message that was lost");
        File.WriteAllText(alice, read + sameId);

        var (exit, output, _) = await _run.RestoreAsync();

        Assert.Equal(0, exit);
        Assert.Equal(read + sameId + Two, File.ReadAllText(alice));
        Assert.Contains("alice          2           2         1  restored", output);
    }

    [Fact]
    public async Task Restore_from_the_gzipped_backup_recreates_a_deleted_mailbox_byte_for_byte_with_its_owner_and_mode()
    {
        var alice = _run.Mailbox("alice", One + Two + Three);
        var (owner, mode) = await SetOwnershipAsync(alice);
        await _run.RunAsync();
        Assert.True(File.Exists(_run.BackupOf("alice")));
        Assert.Equal(One + Two + Three, MboxText.Gunzip(_run.BackupOf("alice")));
        File.Delete(alice);

        var (exit, output, _) = await _run.RestoreAsync("--user", "alice");

        Assert.Equal(0, exit);
        Assert.Contains("alice          3           0         3  mailbox created", output);
        // As stored: the >From quoting and the unquoted "From " inside a paragraph are untouched.
        Assert.Equal(One + Two + Three, File.ReadAllText(alice));
        Assert.Equal((owner, mode), await OwnershipAsync(alice));
    }

    [Fact]
    public async Task Messages_larger_than_the_read_buffer_are_told_apart_and_restored_byte_for_byte()
    {
        // Two large messages with one Message-ID whose bodies differ only past the first megabyte, and
        // one whose last line has no newline: each spans many of the reader's pieces.
        var attachment = string.Concat(Enumerable.Repeat(new string('A', 76) + "\n", 16_000));
        var first = WithId("big@example.org", "a@example.org", attachment + "end of the first");
        var second = WithId("big@example.org", "a@example.org", attachment + "end of the second");
        var third = "From c@example.org Sat Nov 28 06:26:01 2026\nSubject: no id\n\n" + attachment + "last line";
        var alice = _run.Mailbox("alice", first + second + third);
        await _run.RunAsync();
        File.WriteAllText(alice, second);

        var (exit, output, _) = await _run.RestoreAsync();

        Assert.Equal(0, exit);
        Assert.Contains("alice          3           1         2  restored", output);
        Assert.Equal(second + first + third + "\n\n", File.ReadAllText(alice));
    }

    [Fact]
    public async Task Restore_separates_its_first_message_from_a_live_mbox_that_lacks_the_closing_empty_line()
    {
        var alice = _run.Mailbox("alice", One + Two);
        await _run.RunAsync();
        var unterminated = Four.TrimEnd('\n');
        File.WriteAllText(alice, unterminated);

        Assert.Equal(0, (await _run.RestoreAsync()).Exit);

        Assert.Equal(unterminated + "\n\n" + One + Two, File.ReadAllText(alice));
    }

    [Fact]
    public async Task Restore_while_mail_arrives_under_the_locks_appends_whole_messages_never_interleaved()
    {
        var alice = _run.Mailbox("alice", MboxText.Messages(1, 10));
        await _run.RunAsync();
        File.WriteAllText(alice, MboxText.Messages(1, 3));
        // 60 messages 15 ms apart: the writer outlasts the restore (with 3 ms it once finished first in .ci/run).
        using var writer = await LockingProcess.AppendAsync(alice, 101, 160, TimeSpan.FromMilliseconds(15));

        var (exit, output, error) = await _run.RestoreAsync("--lock-timeout", "20s");
        var writerWasRunning = !writer.HasExited;
        await writer.FinishAsync();

        Assert.True(exit == 0, error + output);
        Assert.True(writerWasRunning, "the writer finished before the restore did; nothing was tested");
        var numbers = Numbers(File.ReadAllText(alice));
        // Every message whole (Numbers checks each against its text), none lost, none twice.
        Assert.Equal(Enumerable.Range(1, 10).Concat(Enumerable.Range(101, 60)).Order(), numbers.Order());
        Assert.Equal([1, 2, 3], numbers.Take(3));
        // The writer's messages in their order; the restored ones in one block, in the backup's order.
        Assert.Equal(Enumerable.Range(101, 60), numbers.Where(n => n > 100));
        var first = numbers.IndexOf(4);
        Assert.Equal([4, 5, 6, 7, 8, 9, 10], numbers.Skip(first).Take(7));
    }

    [Fact]
    public async Task Dry_run_reports_and_writes_nothing_and_json_says_the_same()
    {
        var alice = _run.Mailbox("alice", One + Two);
        _run.Mailbox("bob", Three);
        await _run.RunAsync();
        File.WriteAllText(alice, Two);
        var before = File.GetLastWriteTimeUtc(alice);

        var (exit, output, _) = await _run.RestoreAsync("--dry-run", "--json");

        Assert.Equal(0, exit);
        Assert.Equal(Two, File.ReadAllText(alice));
        Assert.Equal(before, File.GetLastWriteTimeUtc(alice));
        using var json = JsonDocument.Parse(output);
        Assert.True(json.RootElement.GetProperty("dry_run").GetBoolean());
        var mailboxes = json.RootElement.GetProperty("mailboxes");
        Assert.Equal("alice", mailboxes[0].GetProperty("user").GetString());
        Assert.Equal(2, mailboxes[0].GetProperty("backup_messages").GetInt64());
        Assert.Equal(1, mailboxes[0].GetProperty("live_messages").GetInt64());
        Assert.Equal(1, mailboxes[0].GetProperty("appended").GetInt64());
        Assert.Equal(Encoding.UTF8.GetByteCount(One), mailboxes[0].GetProperty("appended_bytes").GetInt64());
        Assert.Equal(0, mailboxes[1].GetProperty("appended").GetInt64());
        Assert.Equal(JsonValueKind.Null, mailboxes[1].GetProperty("error").ValueKind);
    }

    [Fact]
    public async Task A_backup_that_does_not_match_its_manifest_is_not_used()
    {
        var alice = _run.Mailbox("alice", One + Two);
        await _run.RunAsync();
        File.WriteAllText(alice, "");
        using (var file = File.Create(_run.BackupOf("alice")))
        using (var gzip = new GZipStream(file, CompressionLevel.Fastest))
            gzip.Write(Encoding.UTF8.GetBytes(One + Four));

        var (exit, _, error) = await _run.RestoreAsync();

        Assert.Equal(1, exit);
        Assert.StartsWith("restore-mail: alice not restored: backup does not match its manifest, not used: alice: ", error);
        Assert.Contains($"alice: sha256 {Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes(One + Four)))} differs", error);
        Assert.Equal("", File.ReadAllText(alice));
    }

    [Fact]
    public async Task A_user_not_in_the_backup_is_refused_before_anything_is_done()
    {
        _run.Mailbox("alice", One);
        await _run.RunAsync();

        var (exit, _, error) = await _run.RestoreAsync("--user", "alice", "--user", "mallory");

        Assert.Equal(2, exit);
        Assert.Equal($"restore-mail: not in the backup {Path.Combine(_run.Destination, _run.Today)}: mallory\n", error);
    }

    /// <summary>The numbers of "message N" texts in order, after checking each message is whole.</summary>
    private static List<int> Numbers(string mbox)
    {
        var numbers = new List<int>();
        foreach (var message in MessageStart().Split(mbox).Where(m => m.Length > 0))
        {
            var number = int.Parse(SubjectNumber().Match(message).Groups[1].Value);
            Assert.Equal(MboxText.Message(number), message);
            numbers.Add(number);
        }
        return numbers;
    }

    [Fact]
    public async Task A_full_disk_leaves_the_mailbox_ending_in_the_last_whole_message_and_says_how_many_were_appended()
    {
        // Four messages of 24 KiB in the backup; the live spool is a 64 KiB tmpfs of a private mount
        // namespace, so the third message's write fails part way with ENOSPC.
        string Big(int n) => WithId($"big{n}@example.org", "f@example.org", string.Concat(Enumerable.Repeat($"line {n} of a large message\n", 900)));
        _run.Mailbox("alice", Big(1) + Big(2) + Big(3) + Big(4));
        Assert.Equal(0, (await _run.RunAsync()).Exit);
        var live = WithId("live@example.org", "g@example.org", "arrived after the backup");
        using var work = new TempDirectory();
        var spool = work.Combine("spool");
        Directory.CreateDirectory(spool);
        var seed = work.Combine("seed");
        File.WriteAllText(seed, live);
        var result = work.Combine("result");

        // As root a mount namespace is enough; otherwise a user namespace maps this user to root in it.
        var psi = new ProcessStartInfo("unshare") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        if (!Environment.IsPrivilegedProcess)
            psi.ArgumentList.Add("--map-root-user");
        string[] arguments =
        [
            "--mount", "--propagation", "private", "sh", "-c",
            "mount -t tmpfs -o size=64k restore-test \"$SPOOL\" && cp \"$SEED\" \"$SPOOL/alice\" || exit 99; \"$@\"; rc=$?; cp \"$SPOOL/alice\" \"$RESULT\"; exit $rc", "sh",
            .. MilterHostProcess.Command, "restore-mail", "--spool", spool, "--from", Path.Combine(_run.Destination, _run.Today),
        ];
        foreach (var a in arguments)
            psi.ArgumentList.Add(a);
        psi.Environment["SPOOL"] = spool;
        psi.Environment["SEED"] = seed;
        psi.Environment["RESULT"] = result;
        using var process = Process.Start(psi)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));

        Assert.True(process.ExitCode == 1, $"exit {process.ExitCode}: {await output} {await error}");
        // Whole messages only: the live one, then the two that fitted, and nothing of the third.
        Assert.Equal(live + Big(1) + Big(2), File.ReadAllText(result));
        var line = (await output).Split('\n')[1];
        Assert.Matches(@"^alice\s+4\s+-\s+2\s+failed: append failed \(No space left on device\); the mailbox was cut back to its last whole message", line);
        Assert.Contains("restore-mail: alice not restored: append failed (No space left on device)", await error);
    }

    [GeneratedRegex("(?=^From )", RegexOptions.Multiline)]
    private static partial Regex MessageStart();

    [GeneratedRegex("^Subject: message (\\d+)$", RegexOptions.Multiline)]
    private static partial Regex SubjectNumber();

    /// <summary>Gives the file mode 0660 and, as root, an owner and group nobody has: what restore must keep.</summary>
    [Fact]
    public async Task Restore_refuses_a_mailbox_that_another_user_put_in_place_or_a_hard_link_and_appends_nothing()
    {
        if (!Environment.IsPrivilegedProcess)
            Assert.Fail("needs root (chown); the suite runs as root");
        var alice = _run.Mailbox("alice", One + Two);
        await SetOwnershipAsync(alice);
        Assert.Equal(0, (await _run.RunAsync()).Exit);

        // alice's mailbox is gone; someone else creates the file before the restore (a spool users can write to).
        File.Delete(alice);
        File.WriteAllText(alice, "");
        await RunAsync("chown", "4343:4343", alice);
        var (exit, output, _) = await _run.RestoreAsync();
        Assert.Equal(1, exit);
        Assert.Contains($"{alice} belongs to uid 4343, not to the mailbox's user (uid 4242): not appended to", output, StringComparison.Ordinal);
        Assert.Equal("", File.ReadAllText(alice));

        // A hard link to another file in its place, owned right.
        File.Delete(alice);
        var elsewhere = Path.Combine(_run.Spool, "..", "elsewhere");
        File.WriteAllText(elsewhere, "not mail\n");
        await RunAsync("chown", "4242:4343", elsewhere);
        await RunAsync("ln", elsewhere, alice);
        (exit, output, _) = await _run.RestoreAsync();
        Assert.Equal(1, exit);
        Assert.Contains($"{alice} has 2 hard links: not a mailbox of its own, left alone", output, StringComparison.Ordinal);
        Assert.Equal("not mail\n", File.ReadAllText(elsewhere));
    }

    [Fact]
    public async Task A_manifest_that_names_a_file_outside_the_backup_or_a_set_id_mode_is_not_followed()
    {
        var alice = _run.Mailbox("alice", One);
        Assert.Equal(0, (await _run.RunAsync()).Exit);
        var folder = Path.Combine(_run.Destination, _run.Today);
        var manifest = Path.Combine(folder, "manifest.json");
        File.Delete(alice);

        File.WriteAllText(manifest, File.ReadAllText(manifest).Replace("\"alice.mbox.gz\"", "\"../alice.mbox.gz\"", StringComparison.Ordinal));
        var (exit, output, _) = await _run.RestoreAsync();
        Assert.Equal(1, exit);
        Assert.Contains("the manifest names the file '../alice.mbox.gz' for alice, not alice.mbox.gz: not used", output, StringComparison.Ordinal);
        Assert.False(File.Exists(alice));

        File.WriteAllText(manifest, File.ReadAllText(manifest).Replace("\"../alice.mbox.gz\"", "\"alice.mbox.gz\"", StringComparison.Ordinal));
        File.WriteAllText(manifest, MyModeRegex().Replace(File.ReadAllText(manifest), "\"mode\": \"6777\""));
        (exit, _, _) = await _run.RestoreAsync();
        Assert.Equal(0, exit);
        Assert.Equal(One, File.ReadAllText(alice));
        Assert.Equal("660", (await OwnershipAsync(alice)).Mode);
    }

    [GeneratedRegex("\"mode\": *\"[0-7]+\"")]
    private static partial Regex MyModeRegex();

    private static async Task<(string Owner, string Mode)> SetOwnershipAsync(string path)
    {
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.GroupWrite);
        if (Environment.IsPrivilegedProcess)
            await RunAsync("chown", "4242:4343", path);
        return await OwnershipAsync(path);
    }

    private static async Task<(string Owner, string Mode)> OwnershipAsync(string path)
    {
        var stat = (await RunAsync("stat", "-c", "%u:%g %a", path)).Trim().Split(' ');
        return (stat[0], stat[1]);
    }

    private static async Task<string> RunAsync(string program, params string[] args)
    {
        using var process = Process.Start(new ProcessStartInfo(program, args) { RedirectStandardOutput = true })!;
        var output = await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();
        Assert.Equal(0, process.ExitCode);
        return output;
    }
}
