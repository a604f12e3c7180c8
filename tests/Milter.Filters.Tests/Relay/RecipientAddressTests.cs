using Milter.Filters.Context;
using Milter.Filters.Relay;

namespace Milter.Filters.Tests.Relay;

public sealed class RecipientAddressTests
{
    private static readonly LocalDomains Local = new(["example.com", "[192.0.2.25]"]);

    [Theory]
    // plain local and foreign
    [InlineData("bob@example.com", true)]
    [InlineData("<bob@example.com>", true)]
    [InlineData("Bob@EXAMPLE.COM", true)]                   // mixed case
    [InlineData("bob@example.com.", true)]                  // trailing dot on a local domain
    [InlineData("bob+list@example.com", true)]
    [InlineData("postmaster", true)]                        // unqualified: ours
    [InlineData("\"bob smith\"@example.com", true)]         // a quoted local part without routing
    [InlineData("bob@remote.example", false)]
    [InlineData("bob@remote.example.", false)]
    [InlineData("bob@EXAMPLE.COM.remote.example", false)]
    // the relay tricks
    [InlineData("user%remote.example@example.com", false)]
    [InlineData("user%remote.example@EXAMPLE.COM.", false)]
    [InlineData("\"user@remote.example\"@example.com", false)]
    [InlineData("\"user%remote.example\"@example.com", false)]
    [InlineData("user\\@remote.example@example.com", false)]
    [InlineData("remote.example!user@example.com", false)]
    [InlineData("remote.example!user", false)]
    [InlineData("user%remote.example", false)]
    [InlineData("@example.com:user@remote.example", false)]
    [InlineData("@example.com,@example.com:user@example.com", false)]
    [InlineData("<@example.com:user@remote.example>", false)]
    [InlineData("user@example.com@remote.example", false)]
    [InlineData("user@[192.0.2.99]", false)]                // an address literal not listed
    [InlineData("user@[192.0.2.25]", true)]                 // ... and one that is
    [InlineData("user@[IPv6:2001:db8::1]", false)]
    // what does not parse is never local
    [InlineData("@example.com", false)]
    [InlineData("user@", false)]
    [InlineData("\"unterminated@example.com", false)]
    [InlineData("user@exa mple.com", false)]
    [InlineData("user@.example.com", false)]
    [InlineData("", false)]
    public void Only_plain_addresses_at_local_domains_are_local(string written, bool local) =>
        Assert.Equal(local, RecipientAddress.Parse(written).IsLocal(Local));

    [Theory]
    [InlineData("Bob+Lists@Example.COM.", "Bob+Lists", "Bob", "Lists", "example.com")]
    [InlineData("\"bob\\\"q\"@example.com", "bob\"q", "bob\"q", null, "example.com")]
    [InlineData("+only@example.com", "+only", "+only", null, "example.com")]
    [InlineData("postmaster", "postmaster", "postmaster", null, null)]
    public void Takes_the_address_apart(string written, string local, string baseLocal, string? detail, string? domain)
    {
        var a = RecipientAddress.Parse(written);
        Assert.Equal((local, baseLocal, detail, domain), (a.LocalPart, a.BaseLocalPart, a.Detail, a.Domain));
        Assert.False(a.IsRouted);
    }

    [Theory]
    // What sendmail 8.17's parser makes of what the client wrote (sendmail -bt, /parse): the milter is
    // handed the text, sendmail delivers to (or records as the sender) the mailbox.
    [InlineData("<a@x.example>", "a@x.example")]
    [InlineData("<a@x.example>junk@y.example", "a@x.example")]
    [InlineData("junk@y.example<a@x.example>", "a@x.example")]
    [InlineData("<b@y.example><a@x.example>", "a@x.example")]          // the last '<'
    [InlineData("<b@y.example<a@x.example>>", "a@x.example")]          // the innermost item
    [InlineData("<<a@x.example>b@y.example>", "a@x.example")]
    [InlineData("\"Name\"<a@x.example>", "a@x.example")]
    [InlineData("\"<b@y.example>\"a@x.example", "\"<b@y.example>\"a@x.example")] // brackets inside quotes are text
    [InlineData("a(<b@y.example>)@x.example", "a@x.example")]         // and inside a comment nothing counts
    [InlineData("<a@x.example>(<b@y.example>)", "a@x.example")]
    [InlineData("<a(c(nested)\\)\")@x.example>", "a@x.example")]
    [InlineData("<a@x.example(c>", "a@x.example")]
    [InlineData("< a @ x.example >", "a@x.example")]
    [InlineData("<\"a b\"@x.example>", "\"a b\"@x.example")]            // a space inside quotes stays
    [InlineData("<a\\(b@x.example>", "a\\(b@x.example")]                 // an escaped parenthesis is text
    [InlineData("<@h.example,@i.example:a@x.example>", "a@x.example")]
    [InlineData("<@h.example:\"a:b\"@x.example>", "\"a:b\"@x.example")]
    [InlineData("a%b.example@x.example", "a%b.example@x.example")]
    [InlineData("<>", "")]
    [InlineData("<>(c)", "")]
    public void The_mailbox_is_what_sendmail_reads_out_of_the_text(string written, string mailbox) =>
        Assert.Equal(mailbox, RecipientAddress.Mailbox(written));

    [Fact]
    public void A_plain_mailbox_is_the_text_itself()
    {
        const string written = "bob@example.com";
        Assert.Same(written, RecipientAddress.Mailbox(written));
        Assert.Equal(RecipientAddress.Parse("<bob@example.com>").Written, RecipientAddress.Mailbox("<bob@example.com>"));
    }

    [Fact]
    public void A_plain_address_is_taken_apart_without_copies()
    {
        const string written = "bob@example.com";
        var a = RecipientAddress.Parse(written);

        Assert.Same(written, a.Written);
        Assert.Equal("example.com", a.Domain);
        Assert.Same(a.LocalPart, a.BaseLocalPart);
    }

    [Fact]
    public void A_recipient_is_parsed_once_for_every_filter_and_again_when_a_copy_changes_it()
    {
        var recipient = new RecipientContext("Bob@Example.COM", "esmtp");

        Assert.Same(recipient.Parsed, recipient.Parsed);
        Assert.Equal("example.com", recipient.Parsed.Domain);
        var other = recipient with { Address = "alice@remote.example" };
        Assert.Equal("remote.example", other.Parsed.Domain);
        Assert.Equal("alice", other.Parsed.LocalPart);
        Assert.Equal(new RecipientContext("Bob@Example.COM", "esmtp"), recipient); // the parse is no part of the value
        Assert.NotEqual(recipient, other);
    }
}
