using System.Globalization;
using System.Net;
using Microsoft.Extensions.Logging.Testing;
using Milter.Filters.Configuration;
using Milter.Filters.Relay;
using Milter.Filters.Tests.Support;

namespace Milter.Filters.Tests.Relay;

/// <summary>
/// relay.local_users with real loopback connections: the test's own sockets are in the kernel's
/// table, owned by the uid the test runs as.
/// </summary>
public sealed class LocalUsersRelayTests
{
    private const string Foreign = "x@remote.example";
    private static readonly string Me = TcpSocketTableTests.OwnUid().ToString(CultureInfo.InvariantCulture);

    // An account other than the test's own, known to NSS on every Debian host.
    private const string Other = "nobody";

    private static readonly string OnErrorReply = Milter.Protocol.Replies.FailureReply.Reply.ToString();

    private static FilterChain Chain(IReadOnlyList<string> localUsers, string submissionUser = "smmsp", OnError onError = OnError.Tempfail) => new(
        [new RelayFilter(new RelayOptions
        {
            AllowClients = [IPNetwork.Parse("127.0.0.0/8"), IPNetwork.Parse("::1/128"), IPNetwork.Parse("198.51.100.0/24")],
            LocalUsers = localUsers,
            SubmissionUser = submissionUser,
        }, new LocalDomains(["example.com"]))],
        onError, new FakeLogger<FilterChain>());

    private static Transaction Over(TcpSocketTableTests.Pair pair) =>
        Transaction.From(pair.ClientEnd).ConnectMacro("{daemon_port}", pair.Port.ToString(CultureInfo.InvariantCulture));

    [Fact]
    public async Task A_listed_user_on_this_host_may_relay()
    {
        using var pair = new TcpSocketTableTests.Pair(IPAddress.Loopback);

        var result = await Over(pair).MailFrom("me@example.com").RcptTo(Foreign).RunAsync(Chain([Me]));

        Assert.Equal("continue", result.Rcpt(Foreign));
    }

    [Fact]
    public async Task A_user_not_listed_is_refused_and_the_decision_names_the_user()
    {
        using var pair = new TcpSocketTableTests.Pair(IPAddress.IPv6Loopback);
        var myName = new Milter.Filters.Recipients.LocalAccounts().NameOf(uint.Parse(Me, CultureInfo.InvariantCulture));

        var result = await Over(pair).MailFrom("me@example.com").RcptTo(Foreign).RcptTo("bob@example.com").RunAsync(Chain([Other]));

        Assert.Equal("550 5.7.1 Relaying denied", result.Rcpt(Foreign));
        Assert.Equal("continue", result.Rcpt("bob@example.com"));
        var d = result.SingleDecision;
        Assert.Equal(("rcpt", "relay", $"local_users ({myName})"), (d.Stage, d.Filter, d.Rule));
    }

    [Fact]
    public async Task A_remote_client_in_allow_clients_is_not_asked_who_it_is()
    {
        var result = await Transaction.From("198.51.100.7").MailFrom("a@example.com").RcptTo(Foreign).RunAsync(Chain([Other]));

        Assert.Equal("continue", result.Rcpt(Foreign));
    }

    [Fact]
    public async Task Without_local_users_loopback_is_judged_by_allow_clients_as_before()
    {
        var result = await Transaction.From("127.0.0.1").MailFrom("a@example.com").RcptTo(Foreign).RunAsync(Chain(null!));

        Assert.Equal("continue", result.Rcpt(Foreign));
    }

    [Theory]
    [InlineData(OnError.Tempfail, true)]
    [InlineData(OnError.Accept, false)]
    public async Task A_loopback_client_without_a_socket_in_the_table_is_answered_per_on_error(OnError onError, bool tempfail)
    {
        var heard = tempfail ? OnErrorReply : "continue";
        // Port 25 from 127.0.0.9: nobody of this test holds that socket.
        var result = await Transaction.From("127.0.0.9").ConnectMacro("{daemon_port}", "2525")
            .MailFrom("a@example.com").RcptTo(Foreign).RunAsync(Chain([Me], onError: onError));

        Assert.Equal(heard, result.Rcpt(Foreign));
    }

    [Theory]
    [InlineData(OnError.Tempfail, true)]
    [InlineData(OnError.Accept, false)]
    public async Task Postfixs_sendmail_command_names_no_user_and_is_answered_per_on_error(OnError onError, bool tempfail)
    {
        var heard = tempfail ? OnErrorReply : "continue";
        // Postfix hides its own "Received: by ... (Postfix, from userid N)" from the milter: the user's own line is no proof.
        var result = await Transaction.PostfixSendmailCommand().MailFrom("root@example.com").RcptTo(Foreign)
            .Header("Received", "(from root@localhost) written by the user").EndOfHeaders()
            .RunAsync(Chain([Me, "root"], submissionUser: Me, onError: onError));

        Assert.Equal(heard, result.Rcpt(Foreign));
    }

    [Fact]
    public async Task The_submission_account_is_judged_by_its_Received_line_at_the_end_of_the_headers()
    {
        using var pair = new TcpSocketTableTests.Pair(IPAddress.Loopback);
        // The test's own uid plays the submission account.
        var chain = Chain([Other], submissionUser: Me);

        var listed = await Over(pair).MailFrom("n@example.com").RcptTo(Foreign)
            .Header("Received", "(from nobody@localhost)\n\tby mx.example.com (8.17.1.9/8.17.1.9/Submit) id 5B5EWxYZ012345")
            .EndOfHeaders().RunAsync(chain);
        var unlisted = await Over(pair).MailFrom("d@example.com").RcptTo(Foreign)
            .Header("Received", "(from daemon@localhost)\n\tby mx.example.com (8.17.1.9/8.17.1.9/Submit) id 5B5EWxYZ012346")
            .Header("Received", "(from nobody@localhost) forged below the submission program's line")
            .EndOfHeaders().RunAsync(chain);

        Assert.Equal(["continue", "continue"], [listed.Rcpt(Foreign), listed.Heard("(end of headers)")]);
        Assert.Equal(["continue", "550 5.7.1 Relaying denied"], [unlisted.Rcpt(Foreign), unlisted.Heard("(end of headers)")]);
        var d = unlisted.SingleDecision;
        Assert.Equal(("eoh", "relay", "local_users (daemon)"), (d.Stage, d.Filter, d.Rule));
    }

    [Theory]
    [InlineData("from mx.outside.example (mx.outside.example [203.0.113.9]) by mx.example.com")]
    [InlineData("(from nobody@localhost.outside.example)")]
    [InlineData(null)]
    public async Task A_submission_account_message_without_its_Received_line_is_answered_per_on_error(string? received)
    {
        using var pair = new TcpSocketTableTests.Pair(IPAddress.Loopback);
        var t = Over(pair).MailFrom("n@example.com").RcptTo(Foreign);
        if (received is not null)
            t = t.Header("Received", received);

        var result = await t.Header("Subject", "hi").EndOfHeaders().RunAsync(Chain([Other], submissionUser: Me));

        Assert.Equal(OnErrorReply, result.Heard("(end of headers)"));
    }

    [Fact]
    public async Task A_Received_line_on_a_session_of_anyone_else_is_not_read()
    {
        using var pair = new TcpSocketTableTests.Pair(IPAddress.Loopback);

        var result = await Over(pair).MailFrom("me@example.com").RcptTo(Foreign).RcptTo("bob@example.com")
            .Header("Received", "(from nobody@localhost) by mx.example.com (8.17.1.9/8.17.1.9/Submit) id forged")
            .EndOfHeaders().RunAsync(Chain([Other]));

        Assert.Equal("550 5.7.1 Relaying denied", result.Rcpt(Foreign));
        Assert.Equal("continue", result.Heard("(end of headers)"));
        Assert.Equal("rcpt", result.SingleDecision.Stage);
    }

    [Fact]
    public async Task A_submission_account_message_to_local_recipients_only_needs_no_Received_line()
    {
        using var pair = new TcpSocketTableTests.Pair(IPAddress.Loopback);

        var result = await Over(pair).MailFrom("n@example.com").RcptTo("bob@example.com").Header("Subject", "hi").EndOfHeaders()
            .RunAsync(Chain([Other], submissionUser: Me));

        Assert.Equal("continue", result.Heard("(end of headers)"));
        Assert.Empty(result.Decisions);
    }

    [Theory]
    [InlineData("root@localhost", "continue")]
    [InlineData("daemon@localhost", "550 5.7.1 Relaying denied")]
    [InlineData("daemon@localhost (forged)", null)]
    public async Task A_local_submission_without_a_socket_is_the_user_sendmail_names(string macro, string? expected)
    {
        var heard = expected ?? OnErrorReply;
        var result = await Transaction.StandardInput().ConnectMacro("_", macro).MailFrom("root").RcptTo(Foreign).RunAsync(Chain(["root"]));

        Assert.Equal(heard, result.Rcpt(Foreign));
    }

    [Fact]
    public void A_listed_name_unknown_here_is_refused_when_the_filter_is_built()
    {
        var ex = Assert.Throws<FormatException>(() => Chain(["no-such-user-4f1c9a"]));
        Assert.Contains("no-such-user-4f1c9a", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_header_stage_is_asked_for_only_with_local_users()
    {
        var with = new RelayFilter(new RelayOptions { LocalUsers = ["root"] }, LocalDomains.None).Needs;
        var without = new RelayFilter(new RelayOptions(), LocalDomains.None).Needs;

        Assert.Equal(Protocol.Negotiation.MilterStages.Rcpt | Protocol.Negotiation.MilterStages.Header | Protocol.Negotiation.MilterStages.EndOfHeaders, with.Stages);
        Assert.Equal(["Received"], with.HeaderNames);
        Assert.Equal(Protocol.Negotiation.MilterStages.Rcpt, without.Stages);
    }
}
