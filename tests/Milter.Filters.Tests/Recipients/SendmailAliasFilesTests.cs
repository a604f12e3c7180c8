using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Time.Testing;
using Milter.Filters.Configuration;
using Milter.Filters.Recipients;
using Milter.Filters.Relay;
using Milter.Filters.Tests.Support;

namespace Milter.Filters.Tests.Recipients;

/// <summary>The aliases files sendmail reads, found from sendmail.cf's AliasFile or the distributions' usual places.</summary>
public sealed class SendmailAliasFilesTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private string Cf(string text) => _dir.Write("sendmail.cf", text);

    private string Missing(string name) => Path.Combine(_dir.Path, name);

    [Fact]
    public void Every_AliasFile_entry_of_every_line_in_order_with_map_types_and_flags()
    {
        var first = _dir.Write("aliases", "a: root\n");
        var second = _dir.Write("more-aliases", "b: root\n");
        var third = _dir.Write("third", "c: root\n");
        var cf = Cf($"""
            # sendmail.cf
            O AliasFile={first},hash:-N {second}.db
            OA{third}
            O AliasWait=10
            """);

        var found = SendmailAliasFiles.Find(cf, []);

        Assert.Equal([first, second, third], found.Files);
        Assert.Empty(found.Errors);
        Assert.Empty(found.Notes);
    }

    [Fact]
    public void A_configured_file_that_is_missing_is_an_error_at_its_line_and_column()
    {
        var present = _dir.Write("aliases", "a: root\n");
        var absent = Missing("gone");
        var cf = Cf($"""
            O QueueDirectory=/var/spool/mqueue
            O AliasFile={present}, hash:{absent}
            """);

        var found = SendmailAliasFiles.Find(cf, []);

        var column = $"O AliasFile={present}, ".Length + 1;
        Assert.Equal(
            [$"{cf}:2:{column}: AliasFile entry 'hash:{absent}' names {absent}, which does not exist (create it, or fix the AliasFile option in sendmail.mc)"],
            found.Errors.Select(e => e.ToString()));
        Assert.Equal([present], found.Files);
    }

    [Fact]
    public void An_optional_missing_file_and_a_map_that_is_not_a_file_are_skipped_with_a_note()
    {
        var present = _dir.Write("aliases", "a: root\n");
        var absent = Missing("gone");
        var cf = Cf($"O AliasFile=hash:-o {absent},nis:mail.aliases,{present}\n");

        var found = SendmailAliasFiles.Find(cf, []);

        Assert.Empty(found.Errors);
        Assert.Equal([present], found.Files);
        Assert.Equal(
        [
            $"{cf}:1:13: AliasFile entry 'hash:-o {absent}' is optional and {absent} does not exist; skipped",
            $"{cf}:1:{13 + $"hash:-o {absent},".Length}: AliasFile entry 'nis:mail.aliases' is a nis map, which milterhost cannot read; skipped",
        ], found.Notes);
    }

    [Fact]
    public void Without_a_sendmail_cf_the_first_known_path_that_exists_is_read()
    {
        var rhel = _dir.Write("etc-aliases", "a: root\n");
        var cf = Missing("sendmail.cf");

        var found = SendmailAliasFiles.Find(cf, [Missing("mail-aliases"), rhel]);

        Assert.Equal([rhel], found.Files);
        Assert.Empty(found.Errors);
        Assert.Equal([$"no {cf}; reading {rhel}"], found.Notes);
    }

    [Fact]
    public void A_sendmail_cf_without_AliasFile_falls_back_to_the_known_paths()
    {
        var debian = _dir.Write("mail-aliases", "a: root\n");
        var cf = Cf("O AliasWait=10\n");

        var found = SendmailAliasFiles.Find(cf, [debian]);

        Assert.Equal([debian], found.Files);
        Assert.Equal([$"{cf} sets no AliasFile; reading {debian}"], found.Notes);
    }

    [Fact]
    public void No_sendmail_cf_and_no_known_file_reads_no_aliases_and_says_so()
    {
        var found = SendmailAliasFiles.Find(Missing("sendmail.cf"), [Missing("a"), Missing("b")]);

        Assert.Empty(found.Files);
        Assert.Empty(found.Errors);
        Assert.Equal([$"no {Missing("sendmail.cf")}, and none of {Missing("a")}, {Missing("b")} exists on this system: no aliases are read"], found.Notes);
    }

    [Fact]
    public void The_aliases_source_reads_the_file_sendmail_cf_names()
    {
        var aliases = _dir.Write("rhel-aliases", "staff: root\n");
        var cf = Cf($"O AliasFile=hash:{aliases}\n");
        var log = new FakeLogger();

        var directory = RecipientDirectory.Load(new RecipientsOptions { Sources = ["aliases"], SendmailCf = cf }, _dir.Path, new FakeTimeProvider(), log);

        Assert.True(directory.Lookup(RecipientAddress.Parse("staff@example.com")).Known);
        Assert.False(directory.Lookup(RecipientAddress.Parse("other@example.com")).Known);
        Assert.Empty(log.Collector.GetSnapshot());
    }

    [Fact]
    public void The_aliases_source_refuses_to_start_when_sendmail_cf_names_a_missing_file()
    {
        var absent = Missing("aliases");
        var cf = Cf($"O AliasFile={absent}\n");

        var error = Assert.Throws<FormatException>(() => RecipientDirectory.Load(
            new RecipientsOptions { Sources = ["passwd", "aliases"], SendmailCf = cf }, _dir.Path, new FakeTimeProvider(), new FakeLogger()));

        Assert.Equal($"{cf}:1:13: AliasFile entry '{absent}' names {absent}, which does not exist (create it, or fix the AliasFile option in sendmail.mc)", error.Message);
    }

    [Fact]
    public void The_default_sources_load_where_no_aliases_file_exists_and_say_so_once()
    {
        var options = new RecipientsOptions { SendmailCf = Missing("sendmail.cf") };
        var log = new FakeLogger();

        var directory = RecipientDirectory.Load(options, _dir.Path, new FakeTimeProvider(), log, knownAliasPaths: [Missing("aliases")]);

        Assert.Equal(["passwd", "aliases"], options.Sources);
        Assert.True(directory.Lookup(RecipientAddress.Parse("root@example.com")).Known);
        Assert.False(directory.Lookup(RecipientAddress.Parse("no-alias-7f3c2e@example.com")).Known);
        var line = Assert.Single(log.Collector.GetSnapshot());
        Assert.Equal(
            $"recipients.sources aliases: no {Missing("sendmail.cf")}, and none of {Missing("aliases")} exists on this system: no aliases are read",
            line.Message);
    }
}
