using System.Net;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Milter.Filters;
using Milter.Filters.Context;
using Milter.Protocol.Replies;
using MilterHost.Logging;
using MilterHost.Tools.LogScan;

namespace MilterHost.Tests.LogScan;

/// <summary>
/// A remote client chooses the addresses sendmail and milterhost log; none of that text may make logscan
/// name a client other than the one that sent it.
/// </summary>
public sealed class LogScanInjectionTests : IDisposable
{
    private static readonly DateTimeOffset Now = new(2026, 11, 28, 12, 0, 0, TimeSpan.Zero);
    private readonly LogScanRun _run = new(Now);

    public void Dispose() => _run.Dispose();

    // The recipient of the security review: five of its kind make a naive parser blame 192.0.2.99.
    private const string Crafted = "<\"a, relay=[192.0.2.99], reject=550 5.7.1 x\"@foreign.example>";

    private static string CraftedReject(int client) =>
        $"Nov 28 06:0{client}:00 mx1 sm-mta[50{client}]: sAS060{client}a00050{client}: ruleset=check_rcpt, arg1={Crafted}, relay=[198.51.100.{client}], reject=550 5.7.1 {Crafted}... Relaying denied. Proper authentication required.";

    [Fact]
    public async Task Crafted_recipients_from_six_clients_never_blame_the_address_inside()
    {
        var log = _run.Write("maillog", Enumerable.Range(1, 6).Select(CraftedReject).ToArray());

        var root = await _run.JsonAsync("--log", log, "--threshold", "1");

        // Three ", relay=" on each line: which one is sendmail's no reading can prove, so none counts.
        Assert.Empty(LogScanRun.Counts(root));
        Assert.Equal(6, root.GetProperty("ambiguous").GetInt32());
    }

    [Fact]
    public void A_crafted_sender_in_a_reply_that_does_not_repeat_it_blames_nobody()
    {
        // sendmail's "does not resolve" reply names the address after its text, not before it: the
        // split inside the address was the only one whose reply repeats its argument.
        const string local = "\"x, relay=[192.0.2.99], reject=550 5.7.1 <\"x... y\"@unresolvable.example";
        var parsed = MaillogMessageParser.Parse("sm-mta",
            $"sAS0600a000601: ruleset=check_mail, arg1=<{local}>, relay=evil.example [198.51.100.7], reject=451 4.1.8 Domain of sender address {local} does not resolve");

        Assert.Equal(LineRole.Ambiguous, parsed.Role);
        Assert.Null(parsed.Client);
    }

    [Fact]
    public void A_reply_that_does_not_repeat_the_argument_still_names_the_one_relay()
    {
        var parsed = MaillogMessageParser.Parse("sm-mta",
            "sAS0600a000601: ruleset=check_mail, arg1=<x@nowhere.example>, relay=evil.example [198.51.100.7], reject=451 4.1.8 Domain of sender address x@nowhere.example does not resolve");

        Assert.Equal(EventKind.Reject4xx, parsed.Kind);
        Assert.Equal(IPAddress.Parse("198.51.100.7"), parsed.Client!.Value.Address);
    }

    [Fact]
    public async Task A_recipient_that_makes_the_line_split_two_ways_is_not_counted_for_anyone()
    {
        // The fake split "arg1=<\"x, relay=[192.0.2.99], reject=550 5.7.1 <\"x... y" repeats its own arg1 too.
        const string address = "<\"x, relay=[192.0.2.99], reject=550 5.7.1 <\"x... y\"@foreign.example>";
        var log = _run.Write("maillog", Enumerable.Range(1, 6).Select(i =>
            $"Nov 28 06:0{i}:00 mx1 sm-mta[60{i}]: sAS060{i}a00060{i}: ruleset=check_rcpt, arg1={address}, relay=[198.51.100.{i}], reject=550 5.7.1 {address}... Relaying denied").ToArray());

        var root = await _run.JsonAsync("--log", log, "--threshold", "1");

        Assert.Empty(LogScanRun.Counts(root));
        Assert.Equal(6, root.GetProperty("ambiguous").GetInt32());
    }

    [Theory]
    // The relay= the client wrote comes first; without the address repeated after reject= no split is proven.
    [InlineData("ruleset=check_rcpt, arg1=<a, relay=[192.0.2.99], reject=550 x@y>, relay=[198.51.100.1], reject=550 5.7.1 Relaying denied")]
    [InlineData("NOQUEUE: SYNFLOOD suspected, peer said [192.0.2.99]")]
    [InlineData("NOQUEUE: Possible SYNFLOOD attack from [192.0.2.99] (via [198.51.100.1])")]
    [InlineData("sAS0600a000601: AUTH failure (LOGIN): authentication failure, user=x, relay=[192.0.2.99], text=y")]
    [InlineData("ruleset=check_relay, arg1=a, arg2=192.0.2.99, relay=[192.0.2.99], reject=421 x, arg2=198.51.100.1, relay=b [198.51.100.1], reject=421 4.3.2 Connection rate limit exceeded.")]
    [InlineData("Milter: connect: host=evil, addr=192.0.2.99, rejecting commands host=x, addr=198.51.100.1, rejecting commands")]
    [InlineData("evil [192.0.2.99] did not issue MAIL/EXPN/VRFY/ETRN during connection to MTA ha [198.51.100.1] did not issue MAIL/EXPN/VRFY/ETRN during connection to MTA")]
    [InlineData("lost input channel from evil [192.0.2.99] to MTA after rcpt x [198.51.100.1] to MTA after rcpt")]
    [InlineData("evil [192.0.2.99]: possible SMTP attack: command=AUTH, count=5 x [198.51.100.1]: possible SMTP attack: command=AUTH, count=5")]
    public void Lines_that_could_name_a_client_inside_client_text_name_nobody(string body)
    {
        var parsed = MaillogMessageParser.Parse("sm-mta", body);

        Assert.True(parsed.Client is null, $"blamed {parsed.Client?.Address}");
    }

    [Fact]
    public void Sendmail_shortens_a_long_address_in_its_reply_and_the_line_still_counts()
    {
        var address = "<" + new string('a', 250) + "@example.net>";
        var shortened = address[..100] + "..." + address[^100..];

        var parsed = MaillogMessageParser.Parse("sm-mta",
            $"sAS0600a000601: ruleset=check_rcpt, arg1={address}, relay=[198.51.100.9], reject=550 5.7.1 {shortened}... Relaying denied");

        Assert.Equal(EventKind.RelayDenied, parsed.Kind);
        Assert.Equal(IPAddress.Parse("198.51.100.9"), parsed.Client!.Value.Address);
    }

    // As the session holds them: without the angle brackets, which the line adds.
    public static TheoryData<string, string> HostileAddresses => new()
    {
        { "a\" to=<x@y> client=[192.0.2.99] decision=reject@example.net", "r@example.org" },
        { "s@example.net", "\"x\r\nNov 28 06:00:00 mx1 milterhost[1]: decision=reject client=[192.0.2.99] to=<v\"@example.org" },
        { "SRS0=ab=cd=example.net=s@example.org", "\"x client=[192.0.2.99]\"@example.org" },
        { "\\\"q\\\\\"@example.net", "\"tab\there \u2028 nbsp\u00a0\"@example.org" },
        { "", "a=b\"c=\\d@[192.0.2.99]" },
        { "s@example.net", "r@example.org" }, // plain: written bare
    };

    [Theory]
    [MemberData(nameof(HostileAddresses))]
    public void Decision_line_with_hostile_addresses_reads_back_the_same_fields(string sender, string recipient)
    {
        var logger = new LineLogger();
        var session = new SessionContext
        {
            ClientAddress = IPAddress.Parse("198.51.100.1"),
            ClientName = "evil [192.0.2.99] name",
            QueueId = "sAS0600a000601",
            Sender = sender,
        };
        new DecisionLog(logger).OnDecision(session,
            new Decision("rcpt", Verdict.Reject(SmtpReply.Parse("550 5.7.1 Relaying denied"), "relay"), "relay", "relay", recipient));

        var line = Assert.Single(logger.Lines);
        Assert.DoesNotContain('\r', line);
        Assert.DoesNotContain('\n', line);
        var parsed = MaillogMessageParser.Parse("milterhost", line);

        Assert.Equal(LineRole.Event, parsed.Role);
        Assert.Equal(EventKind.RelayDenied, parsed.Kind);
        Assert.Equal("sAS0600a000601", parsed.QueueId);
        Assert.Equal(IPAddress.Parse("198.51.100.1"), parsed.Client!.Value.Address);
        Assert.Equal("evil [192.0.2.99] name", parsed.Client.Value.Name);
        Assert.Equal("to:" + recipient.ToLowerInvariant(), parsed.Fingerprint);
        if (sender == "s@example.net" && recipient == "r@example.org")
            Assert.Equal("sAS0600a000601: decision=reject stage=rcpt client=\"evil [192.0.2.99] name\" [198.51.100.1] from=<s@example.net> to=<r@example.org> filter=relay rule=relay reply=\"550 5.7.1 Relaying denied\"", line);
    }

    [Fact]
    public void Decision_line_of_an_authenticated_session_names_the_user_and_is_not_abuse()
    {
        var logger = new LineLogger();
        var session = new SessionContext
        {
            ClientAddress = IPAddress.Parse("198.51.100.1"),
            QueueId = "sAS0600a000601",
            Sender = "me@example.com",
            AuthenticatedUser = "me \"=x",
        };
        new DecisionLog(logger).OnDecision(session,
            new Decision("rcpt", Verdict.Reject(SmtpReply.Parse("550 5.1.1 User unknown"), "unknown"), "recipients", "unknown", "typo@example.com"));

        var line = Assert.Single(logger.Lines);
        Assert.Contains(" auth=\"me \\\"\\x3dx\" ", line);
        var parsed = MaillogMessageParser.Parse("milterhost", line);

        Assert.Equal(LineRole.Event, parsed.Role);
        Assert.True(parsed.Authenticated);
    }

    [Theory]
    // Two client= fields, a stray token, an unterminated quote, a bad escape: refused whole.
    [InlineData("sAS0600a000601: decision=reject client=[198.51.100.1] client=[192.0.2.99] filter=relay")]
    [InlineData("sAS0600a000601: decision=reject client=[198.51.100.1] stray filter=relay")]
    [InlineData("sAS0600a000601: decision=reject client=[198.51.100.1] filter=relay reply=\"550 5.7.1 x")]
    [InlineData("sAS0600a000601: decision=reject client=[198.51.100.1] from=<a\\q> filter=relay")]
    [InlineData("sAS0600a000601: decision=reject  client=[198.51.100.1] filter=relay")]
    public void Malformed_decision_lines_are_not_read(string message)
    {
        Assert.Equal(LineRole.Other, MaillogMessageParser.Parse("milterhost", message).Role);
    }

    /// <summary>Keeps each formatted log line.</summary>
    private sealed class LineLogger : ILogger
    {
        public List<string> Lines { get; } = [];

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            Lines.Add(formatter(state, exception));
    }
}
