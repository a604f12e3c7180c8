using MilterHost.Tools.Backup;

namespace MilterHost.Tests.Backup;

/// <summary><c>--keep</c>'s rule on folders written as the runs leave them (manifests only: pruning reads nothing else).</summary>
public sealed class BackupRotationTests : IDisposable
{
    private readonly TempDirectory _destination = new();

    public void Dispose() => _destination.Dispose();

    private void Folder(string day, bool complete, bool verified, params string[] mailboxes)
    {
        var folder = _destination.Combine(day);
        Directory.CreateDirectory(folder);
        var created = DateTimeOffset.Parse(day[..10] + "T03:00:00Z", System.Globalization.CultureInfo.InvariantCulture);
        new BackupManifest(created, "/var/mail",
            [.. mailboxes.Select(m => new ManifestEntry(m, m + ".mbox.gz", 1, 10, new string('0', 64), created))])
        { Complete = complete, Verified = verified }.Write(folder);
    }

    private string[] Left() => [.. Directory.GetDirectories(_destination.Path).Select(d => System.IO.Path.GetFileName(d)!).Order(StringComparer.Ordinal)];

    /// <summary>Prunes as a run whose folder is the newest by name does.</summary>
    private PruneResult Prune(int keep, IReadOnlyCollection<string> mailboxes) =>
        BackupRotation.Prune(_destination.Path, keep, mailboxes, BackupRotation.RunFolders(_destination.Path)[0].Folder.FullName);

    [Fact]
    public void Complete_runs_keep_the_newest_N_folders()
    {
        foreach (var day in new[] { "2026-11-20", "2026-11-21", "2026-11-22", "2026-11-23" })
            Folder(day, complete: true, verified: true, "alice", "bob");
        Directory.CreateDirectory(_destination.Combine("notes"));

        var result = Prune(2, ["alice", "bob"]);

        Assert.Equal(["2026-11-20", "2026-11-21"], result.Removed);
        Assert.Empty(result.KeptFor);
        Assert.Equal(["2026-11-22", "2026-11-23", "notes"], Left());
    }

    [Theory]
    [InlineData("2026-11-20", true)]
    [InlineData("2026-11-20.110005", true)]
    [InlineData("2026-11-20.110005-2", true)]
    [InlineData("2026-11-20.110005-9", true)]
    [InlineData("2026-11-20.110005-10", true)]
    [InlineData("2026-11-20.110005-1", false)]
    [InlineData("2026-11-20.110005-02", false)]
    [InlineData("2026-11-20.110005-", false)]
    [InlineData("2026-11-20.110005-+3", false)]
    [InlineData("2026-11-20.1100", false)]
    [InlineData("2026-11-20.250000", false)]
    [InlineData("2026-11-20.bak", false)]
    [InlineData("2026-11-20 copy", false)]
    [InlineData("2026-13-01", false)]
    [InlineData("notes", false)]
    public void Only_the_names_runs_give_their_folders_are_run_folders(string name, bool isRun) =>
        Assert.Equal(isRun, BackupRotation.TryParse(name, out _));

    [Fact]
    public void A_later_run_the_same_day_comes_after_the_earlier_ones_and_before_the_next_day()
    {
        var started = new DateTimeOffset(2026, 11, 20, 11, 0, 5, TimeSpan.Zero);
        var names = BackupRotation.RunFolderNames(started).Take(11).ToArray();

        Assert.Equal(["2026-11-20", "2026-11-20.110005", "2026-11-20.110005-2"], names[..3]);
        Assert.Equal("2026-11-20.110005-10", names[^1]);
        string[] expected = ["2026-11-19.235959", "2026-11-20", .. names[1..], "2026-11-20.110006", "2026-11-21"];
        var runs = expected.Select(n => BackupRotation.TryParse(n, out var run) ? run : throw new InvalidOperationException(n)).ToArray();
        Assert.Equal(runs, runs.Order().ToArray());
        Assert.Equal(runs.Length, runs.Distinct().Count());
    }

    [Fact]
    public void Runs_of_the_same_day_count_as_runs_of_their_own_in_the_order_they_ran()
    {
        Folder("2026-11-20", complete: true, verified: true, "alice");
        Folder("2026-11-20.110005", complete: true, verified: true, "alice");
        Folder("2026-11-20.110005-2", complete: true, verified: true, "alice");
        Folder("2026-11-20.110005-10", complete: true, verified: true, "alice");
        Folder("2026-11-20.110005-11", complete: false, verified: false, "alice"); // stopped half-way: newer than what is kept
        Directory.CreateDirectory(_destination.Combine("2026-11-20.bak"));

        var result = Prune(2, ["alice"]);

        Assert.Equal(["2026-11-20", "2026-11-20.110005"], result.Removed);
        Assert.Equal(["2026-11-20.110005-10", "2026-11-20.110005-11", "2026-11-20.110005-2", "2026-11-20.bak"], Left());
    }

    [Fact]
    public void A_skipped_mailbox_keeps_the_folders_of_its_newest_copies_and_nothing_newer()
    {
        Folder("2026-11-19", complete: true, verified: true, "alice", "bob");
        Folder("2026-11-20", complete: true, verified: true, "alice", "bob");
        Folder("2026-11-21", complete: false, verified: true, "alice");
        Folder("2026-11-22", complete: false, verified: true, "alice");
        Folder("2026-11-23", complete: false, verified: true, "alice");

        var result = Prune(2, ["alice", "bob"]);

        Assert.Equal(["2026-11-21"], result.Removed);
        Assert.Equal(["2026-11-19", "2026-11-20", "2026-11-22", "2026-11-23"], Left());
        Assert.Equal([("2026-11-19", (IReadOnlyList<string>)["bob"]), ("2026-11-20", ["bob"])],
            result.KeptFor.Select(k => (k.Folder, k.Mailboxes)).ToArray(), new KeptForComparer());
    }

    [Fact]
    public void A_mailbox_gone_from_the_spool_keeps_nothing_by_itself()
    {
        Folder("2026-11-20", complete: true, verified: true, "alice", "carol");
        Folder("2026-11-21", complete: true, verified: true, "alice");
        Folder("2026-11-22", complete: true, verified: true, "alice");

        var result = Prune(1, ["alice"]);

        Assert.Equal(["2026-11-20", "2026-11-21"], result.Removed);
        Assert.Empty(result.KeptFor);
    }

    [Fact]
    public void Copies_never_verified_count_for_nobody_and_stay_only_while_newer_than_what_is_kept()
    {
        Folder("2026-11-19", complete: false, verified: false, "alice", "bob"); // older than everything kept: goes
        Folder("2026-11-20", complete: true, verified: true, "alice", "bob");
        Folder("2026-11-21", complete: false, verified: false, "alice", "bob"); // a run stopped half-way: stays
        Folder("2026-11-22", complete: false, verified: true, "alice");
        Directory.CreateDirectory(_destination.Combine("2026-11-18"));             // no manifest at all: goes

        var result = Prune(1, ["alice", "bob"]);

        Assert.Equal(["2026-11-18", "2026-11-19"], result.Removed);
        Assert.Equal(["2026-11-20", "2026-11-21", "2026-11-22"], Left());
    }

    [Fact]
    public void Nothing_is_removed_while_no_mailbox_has_N_copies()
    {
        Folder("2026-11-21", complete: false, verified: true, "alice");
        Folder("2026-11-22", complete: false, verified: true, "alice", "bob");

        Assert.Empty(Prune(3, ["alice", "bob"]).Removed);
        Assert.Equal(["2026-11-21", "2026-11-22"], Left());
    }

    [Fact]
    public void A_manifest_written_before_verified_existed_counts_as_verified_when_complete()
    {
        Folder("2026-11-20", complete: true, verified: true, "alice");
        var manifest = _destination.Combine("2026-11-20", BackupManifest.FileName);
        File.WriteAllText(manifest, File.ReadAllText(manifest).Replace("\"verified\": true,", "", StringComparison.Ordinal));
        Assert.DoesNotContain("verified", File.ReadAllText(manifest), StringComparison.Ordinal);

        Assert.True(BackupManifest.Read(_destination.Combine("2026-11-20")).Verified);
    }

    private sealed class KeptForComparer : IEqualityComparer<(string, IReadOnlyList<string>)>
    {
        public bool Equals((string, IReadOnlyList<string>) x, (string, IReadOnlyList<string>) y) => x.Item1 == y.Item1 && x.Item2.SequenceEqual(y.Item2);

        public int GetHashCode((string, IReadOnlyList<string>) obj) => obj.Item1.GetHashCode(StringComparison.Ordinal);
    }
}
