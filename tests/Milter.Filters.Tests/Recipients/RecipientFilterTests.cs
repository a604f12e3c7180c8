using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Time.Testing;
using Milter.Filters.Configuration;
using Milter.Filters.Recipients;
using Milter.Filters.Relay;
using Milter.Filters.Tests.Support;

namespace Milter.Filters.Tests.Recipients;

public sealed class RecipientFilterTests : IDisposable
{
    private readonly TempDirectory _dir = new();
    private readonly LocalDomains _domains = new(["example.com", "hosted.example"]);

    public RecipientFilterTests()
    {
        _dir.Write("aliases", "postmaster: root\nstaff: alice, bob\n");
        _dir.Write("virtusertable", "@hosted.example error:nouser No such user here\nbusy@hosted.example error:4.2.1:450 Mailbox busy\ninfo@hosted.example staff\n");
    }

    public void Dispose() => _dir.Dispose();

    private FilterChain Chain(RecipientAction action)
    {
        var options = new RecipientsOptions
        {
            Action = action,
            Sources = ["passwd", "aliases:aliases", "virtusertable:virtusertable"],
        };
        var directory = RecipientDirectory.Load(options, _dir.Path, new FakeTimeProvider(), new FakeLogger());
        return new FilterChain([new RecipientFilter(options, _domains, directory)], OnError.Tempfail, new FakeLogger<FilterChain>());
    }

    [Fact]
    public async Task An_unknown_recipient_is_refused_while_a_known_one_on_the_same_message_is_accepted()
    {
        var result = await Transaction.From("192.0.2.1").MailFrom("a@remote.example")
            .RcptTo("staff@example.com").RcptTo("nobody-here@example.com").RcptTo("Root+x@Example.com")
            .EndOfMessage()
            .RunAsync(Chain(RecipientAction.Reject));

        Assert.Equal("continue", result.Rcpt("staff@example.com"));
        Assert.Equal("550 5.1.1 User unknown", result.Rcpt("nobody-here@example.com"));
        Assert.Equal("continue", result.Rcpt("Root+x@Example.com"));
        Assert.Equal("continue", result.EndOfMessage);
        var d = result.SingleDecision;
        Assert.Equal(("rcpt", "recipients", "recipients", "nobody-here@example.com"), (d.Stage, d.Filter, d.Rule, d.Recipient));
    }

    [Theory]
    [InlineData("someone@hosted.example", "550 5.1.1 No such user here")]
    [InlineData("busy@hosted.example", "450 4.2.1 Mailbox busy")]
    [InlineData("info@hosted.example", "continue")]
    [InlineData("someone@remote.example", "continue")]               // not ours: the relay filter's business
    [InlineData("user%x@example.com", "continue")]                   // routed: likewise
    public async Task Virtusertable_targets_and_foreign_recipients(string recipient, string heard)
    {
        var result = await Transaction.From("192.0.2.1").MailFrom("a@remote.example").RcptTo(recipient).RunAsync(Chain(RecipientAction.Reject));
        Assert.Equal(heard, result.Rcpt(recipient));
    }

    [Fact]
    public async Task With_discard_a_message_only_to_unknown_recipients_is_accepted_and_discarded()
    {
        var result = await Transaction.From("192.0.2.1").MailFrom("a@remote.example")
            .RcptTo("ghost@example.com").RcptTo("phantom@example.com").Subject("hi").EndOfMessage()
            .RunAsync(Chain(RecipientAction.Discard));

        Assert.Equal("continue", result.Rcpt("ghost@example.com"));
        Assert.Equal("continue", result.Rcpt("phantom@example.com"));
        Assert.Equal("discard", result.EndOfMessage);
        Assert.Equal(("eom", "recipients", null), (result.SingleDecision.Stage, result.SingleDecision.Rule, result.SingleDecision.Recipient));
    }

    [Fact]
    public async Task With_discard_a_message_with_a_known_recipient_is_delivered()
    {
        var result = await Transaction.From("192.0.2.1").MailFrom("a@remote.example")
            .RcptTo("ghost@example.com").RcptTo("postmaster@example.com").EndOfMessage()
            .RunAsync(Chain(RecipientAction.Discard));

        Assert.Equal("continue", result.EndOfMessage);
        Assert.Empty(result.Decisions);
    }

    [Fact]
    public async Task With_discard_the_unknown_set_is_forgotten_with_the_message()
    {
        var result = await Transaction.From("192.0.2.1")
            .MailFrom("a@remote.example").RcptTo("ghost@example.com").Rset()
            .MailFrom("b@remote.example").RcptTo("postmaster@example.com").EndOfMessage()
            .RunAsync(Chain(RecipientAction.Discard));

        Assert.Equal("continue", result.EndOfMessage);
    }
}
