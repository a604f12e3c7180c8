using System.Diagnostics;
using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Time.Testing;
using MilterHost.Tools.Backup;

namespace MilterHost.Tests.Backup;

public sealed class BackupMailCommandTests : IDisposable
{
    private readonly BackupRun _run = new();

    public void Dispose() => _run.Dispose();

    private static string Sha256(string text) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)));

    [Fact]
    public async Task Each_mailbox_is_copied_with_its_counts_and_hash_in_the_manifest()
    {
        var alice = _run.Mailbox("alice", MboxText.Messages(1, 3));
        _run.Mailbox("bob", "");
        File.WriteAllText(Path.Combine(_run.Spool, ".hidden"), "not a mailbox");
        File.CreateSymbolicLink(Path.Combine(_run.Spool, "link"), alice);
        var before = File.GetLastWriteTimeUtc(alice);

        var (exit, output, error) = await _run.RunAsync();

        Assert.Equal(0, exit);
        Assert.Equal($"backup-mail: ignored {Path.Combine(_run.Spool, "link")}: a symbolic link, not a mailbox\n", error);
        Assert.Equal(MboxText.Messages(1, 3), MboxText.Gunzip(_run.BackupOf("alice")));
        Assert.Equal("", MboxText.Gunzip(_run.BackupOf("bob")));
        Assert.False(File.Exists(_run.BackupOf("link")));
        Assert.False(File.Exists(_run.BackupOf(".hidden")));

        using var manifest = JsonDocument.Parse(File.ReadAllText(Path.Combine(_run.Destination, _run.Today, "manifest.json")));
        var mailboxes = manifest.RootElement.GetProperty("mailboxes");
        Assert.Equal(2, mailboxes.GetArrayLength());
        var entry = mailboxes[0];
        Assert.Equal("alice", entry.GetProperty("user").GetString());
        Assert.Equal("alice.mbox.gz", entry.GetProperty("file").GetString());
        Assert.Equal(3, entry.GetProperty("messages").GetInt64());
        Assert.Equal(Encoding.UTF8.GetByteCount(MboxText.Messages(1, 3)), entry.GetProperty("bytes").GetInt64());
        Assert.Equal(Sha256(MboxText.Messages(1, 3)), entry.GetProperty("sha256").GetString());
        Assert.Equal(0, mailboxes[1].GetProperty("messages").GetInt64());

        // The spool is only read, and our dot-locks are gone.
        Assert.Equal(MboxText.Messages(1, 3), File.ReadAllText(alice));
        Assert.Equal(before, File.GetLastWriteTimeUtc(alice));
        Assert.Empty(Directory.GetFiles(_run.Spool, "*.lock"));
        Assert.Empty(Directory.GetFiles(Path.Combine(_run.Destination, _run.Today), ".*"));

        var lines = output.Split('\n');
        Assert.Equal("USER   MESSAGES  BYTES  STATUS", lines[0]);
        Assert.Equal($"alice         3    {Encoding.UTF8.GetByteCount(MboxText.Messages(1, 3))}  backed up", lines[1]);
        Assert.Equal("bob           0      0  backed up", lines[2]);
        Assert.Equal($"Backed up 2 of 2 mailbox(es) to {Path.Combine(_run.Destination, _run.Today)}.", lines[3]);
    }

    [Fact]
    public async Task Backup_taken_while_a_writer_appends_under_the_locks_holds_only_whole_messages()
    {
        var alice = _run.Mailbox("alice", MboxText.Messages(1, 3));
        using var writer = await LockingProcess.AppendAsync(alice, 4, 150, TimeSpan.FromMilliseconds(3));

        var counts = new List<int>();
        while (!writer.HasExited && counts.Count < 200)
        {
            var (exit, output, error) = await _run.RunAsync("--lock-timeout", "20s");
            Assert.True(exit == 0, error);
            // Each run its own folder (many within one second here).
            var folder = BackupRun.FolderOf(output);
            var copy = MboxText.Gunzip(Path.Combine(folder, "alice.mbox.gz"));
            var count = MboxText.AssertWholeMessages(copy);
            using var manifest = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, "manifest.json")));
            Assert.Equal(count, manifest.RootElement.GetProperty("mailboxes")[0].GetProperty("messages").GetInt32());
            counts.Add(count);
        }
        await writer.FinishAsync();

        // Some copies were taken mid-way, and they only ever grew.
        Assert.Contains(counts, c => c > 3 && c < 150);
        Assert.Equal(counts.Order(), counts);
        Assert.Equal(MboxText.Messages(1, 150), File.ReadAllText(alice));
    }

    [Fact]
    public async Task Mailbox_locked_by_another_process_is_skipped_after_the_timeout_and_the_others_are_backed_up()
    {
        _run.Mailbox("alice", MboxText.Messages(1, 2));
        var bob = _run.Mailbox("bob", MboxText.Messages(1, 1));
        using var holder = await LockingProcess.HoldWriteLockAsync(bob);

        var clock = Stopwatch.StartNew();
        var (exit, output, error) = await _run.RunAsync("--lock-timeout", "1s");
        clock.Stop();
        await holder.FinishAsync();

        Assert.Equal(1, exit);
        Assert.InRange(clock.Elapsed, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(20));
        Assert.Equal(MboxText.Messages(1, 2), MboxText.Gunzip(_run.BackupOf("alice")));
        Assert.False(File.Exists(_run.BackupOf("bob")));
        Assert.Equal($"backup-mail: skipped bob: {bob} locked (fcntl) by another process for 1s\n", error);
        Assert.Contains($"bob           -      -  skipped: {bob} locked (fcntl) by another process for 1s", output);
        Assert.Contains("Backed up 1 of 2 mailbox(es)", output);
        // Our dot-lock on bob was let go while waiting; none is left behind.
        Assert.False(File.Exists(bob + ".lock"));
    }

    [Fact]
    public async Task A_mailbox_another_process_holds_by_flock_alone_is_waited_for_too()
    {
        var bob = _run.Mailbox("bob", MboxText.Messages(1, 1));
        using (var holder = await LockingProcess.HoldFlockAsync(bob))
        {
            var (exit, output, error) = await _run.RunAsync("--lock-timeout", "1s");
            await holder.FinishAsync();

            Assert.Equal(1, exit);
            Assert.Equal($"backup-mail: skipped bob: {bob} locked (flock) by another process for 1s\n", error);
            Assert.False(File.Exists(_run.BackupOf("bob")));
        }
        // Let go, it is backed up, and our own flock went with the copy.
        var (again, copied, _) = await _run.RunAsync("--lock-timeout", "1s");
        Assert.Equal(0, again);
        Assert.Equal(MboxText.Messages(1, 1), MboxText.Gunzip(Path.Combine(BackupRun.FolderOf(copied), "bob.mbox.gz")));
        using var after = await LockingProcess.HoldFlockAsync(bob);
        await after.FinishAsync();
    }

    [Fact]
    public async Task Fresh_dot_lock_of_another_process_is_waited_for_then_left_alone()
    {
        _run.Mailbox("alice", MboxText.Messages(1, 2));
        var bob = _run.Mailbox("bob", MboxText.Messages(1, 1));
        File.WriteAllText(bob + ".lock", "4242\n");

        var (exit, _, error) = await _run.RunAsync("--lock-timeout", "1s");

        Assert.Equal(1, exit);
        Assert.Equal($"backup-mail: skipped bob: dot-lock {bob}.lock held by another process for 1s\n", error);
        Assert.Equal("4242\n", File.ReadAllText(bob + ".lock"));
        Assert.True(File.Exists(_run.BackupOf("alice")));
    }

    [Fact]
    public async Task Stale_dot_lock_is_removed_and_the_mailbox_backed_up()
    {
        var bob = _run.Mailbox("bob", MboxText.Messages(1, 4));
        // The pid of a process that has ended: its holder is gone.
        using (var ended = Process.Start("true")!)
        {
            await ended.WaitForExitAsync();
            File.WriteAllText(bob + ".lock", $"{ended.Id}\n");
        }
        File.SetLastWriteTimeUtc(bob + ".lock", DateTime.UtcNow - TimeSpan.FromMinutes(10));

        var (exit, output, _) = await _run.RunAsync("--lock-timeout", "1s");

        Assert.Equal(0, exit);
        Assert.Contains("backed up (removed a stale dot-lock)", output);
        Assert.Equal(MboxText.Messages(1, 4), MboxText.Gunzip(_run.BackupOf("bob")));
        Assert.False(File.Exists(bob + ".lock"));
    }

    [Fact]
    public async Task An_old_dot_lock_whose_holder_still_runs_is_not_broken()
    {
        var bob = _run.Mailbox("bob", MboxText.Messages(1, 4));
        // A live holder (this test's own process) that has held it for ten minutes: a long restore, say.
        File.WriteAllText(bob + ".lock", $"{Environment.ProcessId}\n");
        File.SetLastWriteTimeUtc(bob + ".lock", DateTime.UtcNow - TimeSpan.FromMinutes(10));

        var (exit, output, _) = await _run.RunAsync("--lock-timeout", "1s");

        Assert.Equal(1, exit);
        Assert.Contains($"skipped: dot-lock {bob}.lock held by another process for 1s", output);
        Assert.Equal($"{Environment.ProcessId}\n", File.ReadAllText(bob + ".lock"));
    }

    [Fact]
    public async Task Keep_removes_the_oldest_dated_folders_and_nothing_else()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 11, 20, 3, 0, 0, TimeSpan.Zero));
        using var run = new BackupRun(time);
        run.Mailbox("alice", MboxText.Messages(1, 1));
        Directory.CreateDirectory(Path.Combine(run.Destination, "notes"));

        var outputs = new List<string>();
        for (var day = 0; day < 4; day++)
        {
            var (exit, output, _) = await run.RunAsync("--keep", "2");
            Assert.Equal(0, exit);
            outputs.Add(output);
            time.Advance(TimeSpan.FromDays(1));
        }

        Assert.Equal(["2026-11-22", "2026-11-23", "notes"],
            Directory.GetDirectories(run.Destination).Select(d => Path.GetFileName(d)!).Order().ToArray());
        Assert.DoesNotContain("Removed", outputs[1]);
        Assert.Contains("Removed old backups: 2026-11-20.", outputs[2]);
        Assert.Contains("Removed old backups: 2026-11-21.", outputs[3]);
    }

    [Fact]
    public async Task A_mailbox_locked_for_days_keeps_its_last_copy_while_the_other_mailboxes_are_still_pruned()
    {
        var time = new ShiftedClock(new DateTimeOffset(2026, 11, 20, 3, 0, 0, TimeSpan.Zero));
        using var run = new BackupRun(time);
        run.Mailbox("alice", MboxText.Messages(1, 2));
        var bob = run.Mailbox("bob", MboxText.Messages(1, 3));
        Assert.Equal(0, (await run.RunAsync("--keep", "1")).Exit);                       // 11-20 complete
        var bobsLast = run.Today;
        File.WriteAllText(bob + ".lock", "4242\n");                                    // his client holds it from now on

        var outputs = new List<string>();
        for (var day = 0; day < 3; day++)                                                // 11-21, 11-22, 11-23
        {
            time.Advance(TimeSpan.FromDays(1));
            var (exit, output, _) = await run.RunAsync("--keep", "1", "--lock-timeout", "1s");
            Assert.Equal(1, exit);
            outputs.Add(output);
        }

        Assert.All(outputs, o => Assert.Contains($"Kept {bobsLast} for the newest copies of bob (skipped by this run).", o));
        Assert.DoesNotContain("Removed", outputs[0]);
        Assert.Contains("Removed old backups: 2026-11-21.", outputs[1]);
        Assert.Contains("Removed old backups: 2026-11-22.", outputs[2]);
        Assert.Equal([bobsLast, run.Today], Directory.GetDirectories(run.Destination).Select(d => Path.GetFileName(d)!).Order().ToArray());
        Assert.Equal(MboxText.Messages(1, 3), MboxText.Gunzip(run.BackupOf("bob", bobsLast)));
        Assert.Equal(MboxText.Messages(1, 2), MboxText.Gunzip(run.BackupOf("alice", run.Today)));
        Assert.True(ManifestSaysComplete(run, bobsLast));
        Assert.False(ManifestSaysComplete(run, run.Today));

        // Once bob's lock is gone, his new copy makes the old folder one too many.
        File.Delete(bob + ".lock");
        time.Advance(TimeSpan.FromDays(1));
        var (lastExit, last, _) = await run.RunAsync("--keep", "1");
        Assert.Equal(0, lastExit);
        Assert.Contains($"Removed old backups: {bobsLast}, 2026-11-23.", last);
        Assert.Equal([run.Today], Directory.GetDirectories(run.Destination).Select(d => Path.GetFileName(d)!).ToArray());
    }

    [Fact]
    public async Task Keep_counts_only_complete_folders_and_removes_older_incomplete_ones()
    {
        var time = new ShiftedClock(new DateTimeOffset(2026, 11, 20, 3, 0, 0, TimeSpan.Zero));
        using var run = new BackupRun(time);
        run.Mailbox("alice", MboxText.Messages(1, 2));
        var bob = run.Mailbox("bob", MboxText.Messages(1, 3));
        Assert.Equal(0, (await run.RunAsync("--verify")).Exit);                        // 11-20 complete
        time.Advance(TimeSpan.FromDays(1));
        File.WriteAllText(bob + ".lock", "4242\n");
        Assert.Equal(1, (await run.RunAsync("--lock-timeout", "1s")).Exit);           // 11-21 incomplete
        time.Advance(TimeSpan.FromDays(1));
        Assert.Equal(1, (await run.RunAsync("--lock-timeout", "1s")).Exit);           // 11-22 incomplete
        File.Delete(bob + ".lock");
        time.Advance(TimeSpan.FromDays(1));

        // Two complete folders (11-20, 11-23): the incomplete ones between them are not counted.
        var (exit, output, _) = await run.RunAsync("--keep", "2");
        Assert.Equal(0, exit);
        Assert.DoesNotContain("Removed", output);
        Assert.Equal(["2026-11-20", "2026-11-21", "2026-11-22", "2026-11-23"],
            Directory.GetDirectories(run.Destination).Select(d => Path.GetFileName(d)!).Order().ToArray());

        // Keeping one: everything older than the newest complete folder goes, incomplete or not.
        time.Advance(TimeSpan.FromDays(1));
        (exit, output, _) = await run.RunAsync("--keep", "1");
        Assert.Equal(0, exit);
        Assert.Contains("Removed old backups: 2026-11-20, 2026-11-21, 2026-11-22, 2026-11-23.", output);
        Assert.Equal(["2026-11-24"], Directory.GetDirectories(run.Destination).Select(d => Path.GetFileName(d)!).ToArray());
    }

    [Fact]
    public async Task Keep_never_prunes_after_a_run_that_found_no_mailbox()
    {
        var time = new ShiftedClock(new DateTimeOffset(2026, 11, 20, 3, 0, 0, TimeSpan.Zero));
        using var run = new BackupRun(time);
        var alice = run.Mailbox("alice", MboxText.Messages(1, 2));
        Assert.Equal(0, (await run.RunAsync("--keep", "1")).Exit);
        var complete = run.Today;
        time.Advance(TimeSpan.FromDays(1));
        File.Delete(alice); // as if the spool's file system were not mounted

        var (exit, output, _) = await run.RunAsync("--keep", "1");

        Assert.Equal(0, exit);
        Assert.Contains("Not pruning: no mailbox found in the spool.", output);
        Assert.Equal(MboxText.Messages(1, 2), MboxText.Gunzip(run.BackupOf("alice", complete)));
        Assert.False(ManifestSaysComplete(run, run.Today));
    }

    [Fact]
    public async Task Keep_verifies_the_run_before_marking_it_complete()
    {
        _run.Mailbox("alice", MboxText.Messages(1, 5));

        var (exit, output, _) = await _run.RunAsync("--keep", "3");

        Assert.Equal(0, exit);
        Assert.Contains("Verified 1 mailbox(es): all match the manifest.", output);
        Assert.True(ManifestSaysComplete(_run, _run.Today));
    }

    [Fact]
    public async Task A_second_run_the_same_day_writes_a_folder_of_its_own_and_leaves_the_first_as_it_was()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 11, 20, 3, 0, 0, TimeSpan.Zero));
        using var run = new BackupRun(time);
        var bob = run.Mailbox("bob", MboxText.Messages(1, 3));
        run.Mailbox("alice", MboxText.Messages(1, 1));
        Assert.Equal(0, (await run.RunAsync("--verify")).Exit);

        // Later that day bob's client deletes two messages, and the backup is run again by hand.
        File.WriteAllText(bob, MboxText.Messages(3, 3));
        time.Advance(new TimeSpan(8, 0, 5));
        var (exit, output, _) = await run.RunAsync("--verify");

        Assert.Equal(0, exit);
        Assert.Contains($"to {Path.Combine(run.Destination, "2026-11-20.110005")}.", output);
        Assert.Equal(MboxText.Messages(1, 3), MboxText.Gunzip(run.BackupOf("bob", "2026-11-20")));
        Assert.True(ManifestSaysComplete(run, "2026-11-20"));
        Assert.Equal(MboxText.Messages(3, 3), MboxText.Gunzip(run.BackupOf("bob", "2026-11-20.110005")));
        Assert.True(ManifestSaysComplete(run, "2026-11-20.110005"));

        // A third run within the same second.
        Assert.Equal(0, (await run.RunAsync("--verify")).Exit);
        Assert.True(ManifestSaysComplete(run, "2026-11-20.110005-2"));
        Assert.True(ManifestSaysComplete(run, "2026-11-20.110005"));

        // The newest folder is the one --verify-only checks and --keep counts from.
        time.Advance(TimeSpan.FromDays(1));
        (exit, output, _) = await run.RunAsync("--keep", "1");
        Assert.Equal(0, exit);
        Assert.Contains("Removed old backups: 2026-11-20, 2026-11-20.110005, 2026-11-20.110005-2.", output);
        (exit, output, _) = await run.RunAsync("--verify-only");
        Assert.Equal(0, exit);
        Assert.Contains($"Checked {Path.Combine(run.Destination, "2026-11-21")}.", output);
    }

    private static bool ManifestSaysComplete(BackupRun run, string day)
    {
        using var manifest = JsonDocument.Parse(File.ReadAllText(Path.Combine(run.Destination, day, "manifest.json")));
        return manifest.RootElement.TryGetProperty("complete", out var complete) && complete.GetBoolean();
    }

    [Fact]
    public async Task A_fifo_a_symlink_and_a_folder_in_the_spool_are_skipped_without_opening_them()
    {
        _run.Mailbox("alice", MboxText.Messages(1, 2));
        var fifo = Path.Combine(_run.Spool, "fifo");
        using (var mkfifo = Process.Start("mkfifo", [fifo]))
        {
            await mkfifo.WaitForExitAsync();
            Assert.Equal(0, mkfifo.ExitCode);
        }
        File.CreateSymbolicLink(Path.Combine(_run.Spool, "link"), "/etc/passwd");
        Directory.CreateDirectory(Path.Combine(_run.Spool, "folder"));

        // Run on a thread of its own: opening a FIFO for reading blocks in the kernel until a writer comes.
        var backup = Task.Run(() => _run.RunAsync("--verify"));
        if (await Task.WhenAny(backup, Task.Delay(TimeSpan.FromSeconds(20))) != backup)
        {
            // Let the stuck open return, so the test process is not left with a blocked thread.
            await using (new FileStream(fifo, FileMode.Open, FileAccess.Write)) { }
            Assert.Fail("backup-mail hung on the FIFO in the spool");
        }
        var (exit, output, error) = await backup;

        Assert.Equal(0, exit);
        Assert.Equal(MboxText.Messages(1, 2), MboxText.Gunzip(_run.BackupOf("alice")));
        Assert.False(File.Exists(_run.BackupOf("fifo")));
        Assert.False(File.Exists(_run.BackupOf("link")));
        Assert.False(File.Exists(fifo + ".lock"));
        Assert.Contains($"backup-mail: ignored {fifo}: a FIFO, not a mailbox", error);
        Assert.Contains($"backup-mail: ignored {Path.Combine(_run.Spool, "link")}: a symbolic link, not a mailbox", error);
        Assert.Contains($"backup-mail: ignored {Path.Combine(_run.Spool, "folder")}: a directory, not a mailbox", error);
        Assert.Contains("Backed up 1 of 1 mailbox(es)", output);
        Assert.True(ManifestSaysComplete(_run, _run.Today));
    }

    [Fact]
    public async Task Verify_after_backup_rereads_and_confirms()
    {
        _run.Mailbox("alice", MboxText.Messages(1, 5));
        _run.Mailbox("bob", MboxText.Messages(1, 2));

        var (exit, output, _) = await _run.RunAsync("--verify");

        Assert.Equal(0, exit);
        Assert.Contains("Verified 2 mailbox(es): all match the manifest.", output);
    }

    [Fact]
    public async Task Verify_only_detects_a_backup_whose_content_changed()
    {
        _run.Mailbox("alice", MboxText.Messages(1, 5));
        _run.Mailbox("bob", MboxText.Messages(1, 2));
        await _run.RunAsync();
        // Same size, one message fewer, other hash: as if a message had been swapped for padding.
        var tampered = MboxText.Messages(1, 4) + new string('x', Encoding.UTF8.GetByteCount(MboxText.Message(5)) - 1) + "\n";
        using (var file = File.Create(_run.BackupOf("alice")))
        using (var gzip = new GZipStream(file, CompressionLevel.Fastest))
            gzip.Write(Encoding.UTF8.GetBytes(tampered));

        var (exit, output, _) = await _run.RunAsync("--verify-only");

        Assert.Equal(1, exit);
        Assert.Contains("Verify found 2 problem(s):", output);
        Assert.Contains("  alice: 4 messages, manifest says 5", output);
        Assert.Contains($"  alice: sha256 {Sha256(tampered)} differs from the manifest's {Sha256(MboxText.Messages(1, 5))}", output);
        Assert.DoesNotContain("bob:", output);
    }

    [Fact]
    public async Task Verify_only_detects_a_truncated_gzip()
    {
        _run.Mailbox("alice", MboxText.Messages(1, 50));
        await _run.RunAsync();
        var path = _run.BackupOf("alice");
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..(bytes.Length / 2)]);

        var (exit, output, _) = await _run.RunAsync("--verify-only");

        Assert.Equal(1, exit);
        Assert.Contains($" bytes, manifest says {Encoding.UTF8.GetByteCount(MboxText.Messages(1, 50))}\n", output);
    }

    [Fact]
    public async Task Verify_only_fails_on_the_backup_of_an_incomplete_run_although_what_it_holds_matches()
    {
        _run.Mailbox("alice", MboxText.Messages(1, 2));
        var bob = _run.Mailbox("bob", MboxText.Messages(1, 1));
        using (var holder = await LockingProcess.HoldWriteLockAsync(bob))
        {
            Assert.Equal(1, (await _run.RunAsync("--lock-timeout", "1s")).Exit);
            await holder.FinishAsync();
        }

        var (exit, output, _) = await _run.RunAsync("--verify-only");

        Assert.Equal(1, exit);
        Assert.Contains("Verified 1 mailbox(es): all match the manifest.", output);
        Assert.Contains("The run that wrote it was incomplete (a mailbox was skipped): not every mailbox is backed up.", output);
    }

    [Fact]
    public async Task A_file_gone_before_it_could_be_copied_is_no_mailbox_and_the_run_stays_complete()
    {
        _run.Mailbox("alice", MboxText.Messages(1, 2));
        var temporary = _run.Mailbox("_Xy4sQ1.mailhost", MboxText.Messages(1, 1));
        using var holder = await LockingProcess.HoldWriteLockAsync(temporary);
        var run = _run.RunAsync("--lock-timeout", "20s", "--verify");
        // While the run waits for its lock, its writer removes it, as procmail does with its temporary files.
        await Task.Delay(500);
        File.Delete(temporary);
        var (exit, _, error) = await run;
        await holder.FinishAsync();

        Assert.Equal(0, exit);
        Assert.Equal($"backup-mail: ignored {temporary}: gone during the run, not a mailbox any more\n", error);
        Assert.True(BackupManifest.IsComplete(Path.Combine(_run.Destination, _run.Today)));
    }

    [Fact]
    public async Task A_spool_name_with_a_line_feed_stays_on_its_own_line()
    {
        _run.Mailbox("alice", MboxText.Messages(1, 1));
        File.CreateSymbolicLink(Path.Combine(_run.Spool, "zz\nbackup-mail: all mailboxes verified"), "/etc/passwd");

        var (_, _, error) = await _run.RunAsync();

        var line = Assert.Single(error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith($"backup-mail: ignored {_run.Spool}/zz", line, StringComparison.Ordinal);
        Assert.Contains("all mailboxes verified", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Missing_spool_is_a_fatal_error()
    {
        Directory.Delete(_run.Spool);

        var (exit, _, error) = await _run.RunAsync();

        Assert.Equal(2, exit);
        Assert.Equal($"backup-mail: spool {_run.Spool} does not exist\n", error);
    }

    [Fact]
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public async Task Backups_are_private_to_their_owner()
    {
        _run.Mailbox("alice", MboxText.Messages(1, 1));

        await _run.RunAsync();

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(_run.BackupOf("alice")));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute,
            File.GetUnixFileMode(Path.Combine(_run.Destination, _run.Today)));
    }

    [Fact]
    public async Task Stopped_by_SIGTERM_while_it_waits_for_a_mailbox_it_leaves_no_dot_lock_and_says_the_run_is_incomplete()
    {
        _run.Mailbox("alice", MboxText.Messages(1, 2));
        var bob = _run.Mailbox("bob", MboxText.Messages(1, 1));
        using var holder = await LockingProcess.HoldWriteLockAsync(bob);
        var command = Milter.TestSupport.MilterHostProcess.Command;
        var psi = new ProcessStartInfo(command[0]) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var a in command.Skip(1).Concat(["backup-mail", "--spool", _run.Spool, "--dest", _run.Destination, "--lock-timeout", "10m"]))
            psi.ArgumentList.Add(a);
        using var process = Process.Start(psi)!;
        var stderr = process.StandardError.ReadToEndAsync();
        // alice is backed up, then it waits for bob, taking bob's dot-lock for each try of the fcntl lock.
        var deadline = Stopwatch.StartNew();
        while ((!Directory.Exists(_run.Destination) || Directory.GetFiles(_run.Destination, "alice.mbox.gz", SearchOption.AllDirectories).Length == 0) && !process.HasExited
               && deadline.Elapsed < TimeSpan.FromSeconds(30))
            await Task.Delay(10);
        await Task.Delay(300);
        Assert.False(process.HasExited, "backup-mail ended instead of waiting for bob's mailbox");

        Assert.Equal(0, Tmds.Linux.LibC.kill(process.Id, Tmds.Linux.LibC.SIGTERM));
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
        await holder.FinishAsync();

        Assert.Equal(1, process.ExitCode);
        Assert.Contains("backup-mail: stopped before it finished; this run is incomplete and pruned nothing", await stderr, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFiles(_run.Spool, "*.lock"));
    }

    [Fact]
    public async Task With_the_clock_set_back_a_day_keep_never_deletes_the_backup_this_run_just_made()
    {
        var time = new ShiftedClock(new DateTimeOffset(2026, 11, 21, 3, 0, 0, TimeSpan.Zero));
        using var run = new BackupRun(time);
        run.Mailbox("alice", MboxText.Messages(1, 2));
        Assert.Equal(0, (await run.RunAsync("--keep", "1")).Exit);      // 2026-11-21 (the clock was a day ahead)
        time.Advance(TimeSpan.FromDays(-1));                              // NTP puts it right
        run.Mailbox("alice", MboxText.Messages(1, 3));                   // new mail since

        var (exit, output, _) = await run.RunAsync("--keep", "1");

        Assert.Equal(0, exit);
        var folder = BackupRun.FolderOf(output);
        // This run's backup, the only one holding message 3, must survive its own pruning.
        Assert.True(Directory.Exists(folder), $"this run's folder {folder} was removed by its own --keep:\n{output}");
    }
}
