using Milter.Filters.Recipients;

namespace Milter.Filters.Tests.Recipients;

public sealed class SourceFileTests
{
    private const string Aliases = """
        # Basic system aliases -- these MUST be present.
        MAILER-DAEMON: postmaster
        postmaster: root

        # a list on several lines
        staff: alice,
            bob,
        	carol
        sales: :include:/etc/mail/lists/sales
        "quoted": root
        archive: /var/mail/archive
        tickets: "|/usr/local/bin/ticket"
        gone: error:5.1.1:550 Gone, ask hr@example.com
        moved: error:nouser moved to example.org
        this line has no colon
        : no name
        Mixed.Case: root
        """;

    [Theory]
    [InlineData("mailer-daemon", true)]
    [InlineData("postmaster", true)]
    [InlineData("staff", true)]
    [InlineData("sales", true)]            // :include: targets count as known
    [InlineData("quoted", true)]
    [InlineData("archive", true)]
    [InlineData("tickets", true)]
    [InlineData("mixed.case", true)]
    [InlineData("bob", false)]             // a continuation line is a target, not an alias
    [InlineData("carol", false)]
    [InlineData("this line has no colon", false)]
    public void Every_alias_name_is_known_whatever_its_target(string name, bool known)
    {
        var entries = AliasesFile.Parse(Aliases.Split('\n'));
        Assert.Equal(known, entries.TryGetValue(name, out var hit) && hit.Known);
    }

    [Fact]
    public void An_alias_to_an_error_target_is_unknown_with_that_reply()
    {
        var entries = AliasesFile.Parse(Aliases.Split('\n'));
        Assert.Equal("550 5.1.1 Gone, ask hr@example.com", entries["gone"].Reply!.ToString());
        Assert.Equal("550 5.1.1 moved to example.org", entries["moved"].Reply!.ToString());
        Assert.False(entries["gone"].Known);
    }

    [Fact]
    public void Lines_that_are_not_aliases_are_reported_with_their_number()
    {
        var bad = new List<(int, string)>();
        AliasesFile.Parse(Aliases.Split('\n'), (line, problem) => bad.Add((line, problem)));
        Assert.Equal([15, 16], bad.Select(b => b.Item1));
    }

    [Theory]
    [InlineData("error:nouser User unknown", "550 5.1.1 User unknown")]
    [InlineData("error:nouser", "550 5.1.1 User unknown")]
    [InlineData("error:5.1.1:550 No such user here", "550 5.1.1 No such user here")]
    [InlineData("error:5.7.0:550 Address invalid", "550 5.7.0 Address invalid")]
    [InlineData("error:550 Mailbox disabled", "550 Mailbox disabled")]
    [InlineData("error:4.2.1:450 Mailbox busy", "450 4.2.1 Mailbox busy")]
    [InlineData("error:tempfail try later", "451 4.0.0 try later")]
    [InlineData("error:nohost", "550 5.1.2 User unknown")]
    [InlineData("error:4.1.1:550 mismatched class", "550 mismatched class")]
    public void Error_targets_carry_their_code_and_text(string target, string reply) =>
        Assert.Equal(reply, ErrorTarget.Parse(target)!.ToString());

    [Fact]
    public void Virtusertable_keys_are_addresses_or_catch_alls()
    {
        var bad = new List<int>();
        var entries = VirtusertableFile.Parse("""
            # virtusertable
            info@hosted.example      alice
            sales@hosted.example     bob@elsewhere.example
            @hosted.example          error:nouser No such user here
            list+*@hosted.example    lists
            @catchall.example        catcher
            not-an-address           alice
            lonely@hosted.example
            """.Split('\n'), (line, _) => bad.Add(line));

        Assert.True(entries["info@hosted.example"].Known);
        Assert.True(entries["SALES@Hosted.Example"].Known);
        Assert.Equal("550 5.1.1 No such user here", entries["@hosted.example"].Reply!.ToString());
        Assert.True(entries["list+*@hosted.example"].Known);
        Assert.True(entries["@catchall.example"].Known);
        Assert.Equal([7, 8], bad);
    }
}
