using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Time.Testing;
using Milter.Filters.Configuration;
using Milter.Filters.Recipients;
using Milter.Filters.Relay;
using Milter.Filters.Tests.Support;

namespace Milter.Filters.Tests.Recipients;

public sealed class RecipientDirectoryTests : IDisposable
{
    private static readonly DateTime Then = new(2026, 1, 1, 0, 0, 0, DateTimeKind.Utc);
    private readonly TempDirectory _dir = new();
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 3, 1, 12, 0, 0, TimeSpan.Zero));
    private readonly FakeLogger _log = new();

    public RecipientDirectoryTests()
    {
        _dir.Write("aliases", """
            postmaster: root
            staff: alice,
              bob
            sales: :include:/etc/mail/lists/sales
            gone: error:5.1.1:550 Gone, ask hr@example.com
            """, Then);
        _dir.Write("virtusertable", """
            info@hosted.example     alice
            list+*@hosted.example   lists
            jo@hosted.example       jo@elsewhere.example
            @hosted.example         error:nouser No such user here
            @catchall.example       catcher
            temp@hosted.example     error:4.2.1:450 Mailbox busy
            """, Then);
    }

    public void Dispose() => _dir.Dispose();

    private RecipientDirectory Load(params string[] sources) => RecipientDirectory.Load(
        new RecipientsOptions { Sources = sources, Addresses = ["listed@example.com", "abuse"] },
        _dir.Path, _time, _log);

    private RecipientLookup Lookup(RecipientDirectory d, string address) => d.Lookup(RecipientAddress.Parse(address));

    public static TheoryData<string, bool, string?> Cases => new()
    {
        // recipients.addresses, full and bare
        { "listed@example.com", true, "addresses" },
        { "LISTED@Example.Com", true, "addresses" },
        { "listed+news@example.com", true, "addresses" },
        { "abuse@example.com", true, "addresses" },
        { "abuse@hosted.example", true, "addresses" },
        // aliases: any target, +detail, case
        { "postmaster@example.com", true, "aliases" },
        { "Staff@example.com", true, "aliases" },
        { "staff+weekly@example.com", true, "aliases" },
        { "sales@example.com", true, "aliases" },
        { "gone@example.com", false, "aliases" },
        // local accounts through getpwnam (the tests run where root exists)
        { "root@example.com", true, "passwd" },
        { "ROOT@example.com", true, "passwd" },
        { "root+backup@example.com", true, "passwd" },
        { "postmaster", true, "aliases" },
        { "no-such-user-4711@example.com", false, null },
        // virtusertable: exact, +*, +detail to the base, catch-all
        { "info@hosted.example", true, "virtusertable" },
        { "INFO@hosted.example", true, "virtusertable" },
        { "info+x@hosted.example", true, "virtusertable" },
        { "list+anything@hosted.example", true, "virtusertable" },
        { "jo@hosted.example", true, "virtusertable" },
        { "anyone@catchall.example", true, "virtusertable" },
        { "nobody@hosted.example", false, "virtusertable" },
        // the catch-all error wins over a local account, as in sendmail
        { "root@hosted.example", false, "virtusertable" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Knows_recipients_from_each_source(string address, bool known, string? source)
    {
        var d = Load("passwd", "aliases:aliases", "virtusertable:virtusertable");
        var lookup = Lookup(d, address);
        Assert.Equal((known, source), (lookup.Known, lookup.Source));
    }

    [Theory]
    [InlineData("gone@example.com", "550 5.1.1 Gone, ask hr@example.com")]
    [InlineData("nobody@hosted.example", "550 5.1.1 No such user here")]
    [InlineData("temp@hosted.example", "450 4.2.1 Mailbox busy")]
    public void Error_targets_give_their_reply(string address, string reply)
    {
        var d = Load("passwd", "aliases:aliases", "virtusertable:virtusertable");
        Assert.Equal(reply, Lookup(d, address).Reply?.ToString());
    }

    [Theory]
    [InlineData("root@example.com", true)]
    [InlineData("Root@example.com", true)]
    [InlineData("no-such-account-here@example.com", false)]
    public void Where_blocking_is_not_allowed_an_uncached_account_is_left_for_later_and_a_cached_one_answers(string address, bool known)
    {
        var d = Load("passwd", "aliases:aliases");
        var recipient = RecipientAddress.Parse(address);

        Assert.Null(d.Lookup(recipient, mayAskTheSystem: false));
        Assert.Equal("aliases", d.Lookup(RecipientAddress.Parse("postmaster@example.com"), mayAskTheSystem: false)?.Source); // the tables never block
        Assert.Equal(known, d.Lookup(recipient).Known);
        Assert.Equal(known, d.Lookup(recipient, mayAskTheSystem: false)?.Known);
    }

    [Fact]
    public void Without_passwd_a_local_account_is_not_a_recipient()
    {
        var d = Load("aliases:aliases");
        Assert.False(Lookup(d, "root@example.com").Known);
    }

    [Fact]
    public void A_changed_file_is_read_again_after_the_check_interval_and_not_before()
    {
        var d = Load("aliases:aliases");
        Assert.False(Lookup(d, "newbie@example.com").Known);

        _dir.Write("aliases", "postmaster: root\nnewbie: root\n", Then.AddMinutes(1));
        _time.Advance(TimeSpan.FromSeconds(4));
        Assert.False(Lookup(d, "newbie@example.com").Known);     // no disk access between checks

        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.True(Lookup(d, "newbie@example.com").Known);
        Assert.False(Lookup(d, "staff@example.com").Known);       // gone with the old contents
        Assert.Contains(_log.Collector.GetSnapshot(), e => e.Id.Id == 3300 && e.Message.EndsWith(": 2 entries", StringComparison.Ordinal));
    }

    [Fact]
    public void An_unchanged_file_is_not_read_again()
    {
        var d = Load("aliases:aliases");
        _time.Advance(TimeSpan.FromMinutes(1));
        Lookup(d, "staff@example.com");
        Assert.DoesNotContain(_log.Collector.GetSnapshot(), e => e.Id.Id == 3300);
    }

    [Fact]
    public void A_file_that_vanishes_keeps_its_last_contents_and_is_reported_once()
    {
        var d = Load("aliases:aliases");
        File.Delete(Path.Combine(_dir.Path, "aliases"));
        for (var i = 0; i < 3; i++)
        {
            _time.Advance(TimeSpan.FromSeconds(10));
            Assert.True(Lookup(d, "staff@example.com").Known);
        }
        Assert.Single(_log.Collector.GetSnapshot(), e => e.Level == LogLevel.Warning && e.Id.Id == 3301);
    }

    [Fact]
    public void A_missing_file_at_start_is_a_clear_error()
    {
        var ex = Assert.Throws<IOException>(() => Load("aliases:no-such-aliases"));
        Assert.Contains(Path.Combine(_dir.Path, "no-such-aliases"), ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("ldap")]
    [InlineData("aliases:")]
    [InlineData("hash:/etc/mail/aliases")]
    public void An_unknown_source_is_a_clear_error(string source)
    {
        var ex = Assert.Throws<FormatException>(() => Load(source));
        Assert.Contains("passwd, aliases, aliases:PATH or virtusertable:PATH", ex.Message, StringComparison.Ordinal);
    }
}
