using Microsoft.Extensions.Logging;
using Milter.Protocol.Client;
using Milter.Protocol.Commands;
using Milter.Protocol.Negotiation;
using Milter.Protocol.Replies;
using Milter.Protocol.Tests.Support;
using Milter.Protocol.Wire;

namespace Milter.Protocol.Tests;

/// <summary>The session's state machine driven through the library's own MTA half.</summary>
public sealed class SessionBehaviourTests
{
    private const string FailureText = "451 4.3.0 Temporary local problem, please try again later";

    private static async Task Begin(MilterClient mta)
    {
        await mta.NegotiateAsync();
        await mta.SendMacrosAsync('C', ("j", "mx.example.com"), ("{client_addr}", "192.0.2.7"));
        Assert.Equal(VerdictKind.Continue, (await mta.ConnectAsync("client.example", ConnectFamily.Inet, 4321, "192.0.2.7")).Kind);
        Assert.Equal(VerdictKind.Continue, (await mta.HeloAsync("client.example")).Kind);
    }

    private static async Task<MilterResponse> Message(MilterClient mta, string queueId, string rcpt = "<bob@example.com>")
    {
        await mta.SendMacrosAsync('M', ("i", queueId));
        Assert.Equal(VerdictKind.Continue, (await mta.MailAsync("<sender@remote.example>")).Kind);
        await mta.SendMacrosAsync('R', ("{rcpt_addr}", rcpt));
        Assert.Equal(VerdictKind.Continue, (await mta.RcptAsync(rcpt)).Kind);
        Assert.Equal(VerdictKind.Continue, (await mta.DataAsync()).Kind);
        Assert.Equal(VerdictKind.Continue, (await mta.HeaderAsync("Subject", "about " + queueId)).Kind);
        Assert.Equal(VerdictKind.Continue, (await mta.EndOfHeadersAsync()).Kind);
        Assert.Equal(VerdictKind.Continue, (await mta.BodyAsync("hello\r\n"u8.ToArray())).Kind);
        return await mta.EndOfMessageAsync();
    }

    [Fact]
    public async Task Two_messages_on_one_connection_are_each_filtered_with_their_own_macros()
    {
        var handler = new ScriptedHandler { Script = c => new(c.Stage == "EOM" ? Verdict.Accept : Verdict.Continue) };
        await using var s = PipeSession.Start(handler);
        await Begin(s.Client);

        Assert.Equal(VerdictKind.Accept, (await Message(s.Client, "Q1")).Kind);
        Assert.Equal(VerdictKind.Accept, (await Message(s.Client, "Q2")).Kind);
        await s.Client.QuitAsync();
        await s.WaitForEndAsync();

        Assert.Equal(["Q1", "Q2"], handler.At("EOM").Select(e => e.Macros["i"]));
        Assert.Equal(["192.0.2.7", "192.0.2.7"], handler.At("EOM").Select(e => e.Macros["client_addr"]));
        Assert.Equal(["about Q1", "about Q2"], handler.At("HEADER").Select(h => ((HeaderCommand)h.Command!).Value));
        Assert.Single(handler.At("CLOSE"));
        Assert.Empty(handler.At("ABORT"));
    }

    [Fact]
    public async Task An_MTA_that_leaves_during_a_message_has_it_aborted_before_the_close_as_libmilter_does()
    {
        var handler = new ScriptedHandler();
        await using var s = PipeSession.Start(handler);
        await Begin(s.Client);
        await s.Client.MailAsync("<a@remote.example>");
        await s.Client.RcptAsync("<bob@example.com>");

        await s.Client.QuitAsync();
        await s.WaitForEndAsync();

        Assert.Equal(["ABORT", "CLOSE"], handler.Stages.TakeLast(2));
        Assert.Single(handler.At("ABORT"));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task The_daemons_hard_stop_cuts_off_a_handler_still_busy_closing_or_dropping_a_left_message(bool inMessage)
    {
        // A filter's close (or the abort of a message the MTA left) that waits on a store or an HTTP
        // call honouring its token: the shutdown grace's hard stop must reach it.
        var busy = new TaskCompletionSource();
        var handler = new ScriptedHandler
        {
            Script = async c =>
            {
                if (c.Stage == (inMessage ? "ABORT" : "CLOSE"))
                {
                    busy.TrySetResult();
                    await Task.Delay(Timeout.Infinite, c.Token);
                }
                return default;
            },
        };
        await using var s = PipeSession.Start(handler);
        await Begin(s.Client);
        if (inMessage)
        {
            await s.Client.MailAsync("<a@remote.example>");
            await s.Client.RcptAsync("<bob@example.com>");
        }
        await s.Client.QuitAsync();
        await busy.Task.WaitAsync(PipeSession.HangLimit);

        await s.HardStopAsync();
        await s.WaitForEndAsync();

        Assert.Empty(s.Logger.AtLeast(LogLevel.Warning));
    }

    [Fact]
    public async Task Only_the_headers_the_handler_names_reach_it_and_the_others_are_still_answered()
    {
        var handler = new ScriptedHandler
        {
            Requirements = HandlerRequirements.Everything with { HeaderNames = ["Subject", "X-Spam-Flag"] },
        };
        await using var s = PipeSession.Start(handler);
        await Begin(s.Client);
        await s.Client.MailAsync("<sender@remote.example>");
        await s.Client.RcptAsync("<bob@example.com>");
        await s.Client.DataAsync();

        var replies = new List<VerdictKind>();
        foreach (var (name, value) in new[] { ("Received", "from a by b"), ("SUBJECT", "hello"), ("From", "a@b"), ("x-spam-flag", "YES") })
            replies.Add((await s.Client.HeaderAsync(name, value)).Kind);

        // Every header answered (no SMFIP_NR_HDR was agreed); the handler saw only the two it names, in any case.
        Assert.Equal([VerdictKind.Continue, VerdictKind.Continue, VerdictKind.Continue, VerdictKind.Continue], replies);
        Assert.Equal(["SUBJECT", "x-spam-flag"], handler.At("HEADER").Select(h => ((HeaderCommand)h.Command!).Name));
    }

    [Fact]
    public async Task ABORT_returns_to_after_HELO_forgets_the_message_macros_and_a_MAIL_may_follow()
    {
        var handler = new ScriptedHandler();
        await using var s = PipeSession.Start(handler);
        await Begin(s.Client);
        await s.Client.SendMacrosAsync('M', ("i", "Q1"));
        await s.Client.MailAsync("<a@remote.example>");
        await s.Client.SendMacrosAsync('R', ("{rcpt_addr}", "bob"));
        await s.Client.RcptAsync("<bob@example.com>");

        await s.Client.AbortAsync();
        var mail = await s.Client.MailAsync("<b@remote.example>");
        var rcpt = await s.Client.RcptAsync("<carol@example.com>");
        var data = await s.Client.DataAsync();
        var eom = await s.Client.EndOfMessageAsync();

        Assert.Equal(VerdictKind.Continue, mail.Kind);
        Assert.Equal(VerdictKind.Continue, rcpt.Kind);
        Assert.Equal(VerdictKind.Continue, data.Kind);
        Assert.Equal(VerdictKind.Continue, eom.Kind);
        var secondMail = handler.At("MAIL").ElementAt(1);
        Assert.False(secondMail.Macros.ContainsKey("i"));
        Assert.False(secondMail.Macros.ContainsKey("rcpt_addr"));
        Assert.Equal("192.0.2.7", secondMail.Macros["client_addr"]);
        Assert.Single(handler.At("ABORT"));
        Assert.Empty(s.Logger.AtLeast(LogLevel.Warning));
    }

    [Fact]
    public async Task ABORT_twice_in_a_row_as_Postfix_sends_it_is_harmless()
    {
        var handler = new ScriptedHandler();
        await using var s = PipeSession.Start(handler);
        await Begin(s.Client);
        await s.Client.MailAsync("<a@remote.example>");
        await s.Client.AbortAsync();
        await s.Client.AbortAsync();
        Assert.Equal(VerdictKind.Continue, (await Message(s.Client, "Q2")).Kind);
        await s.Client.QuitAsync();
        await s.WaitForEndAsync();

        Assert.Single(handler.At("ABORT"));
        Assert.Empty(s.Logger.AtLeast(LogLevel.Warning));
    }

    [Fact]
    public async Task ABORT_before_any_message_is_harmless()
    {
        var handler = new ScriptedHandler();
        await using var s = PipeSession.Start(handler);
        await Begin(s.Client);
        await s.Client.AbortAsync();
        Assert.Equal(VerdictKind.Continue, (await Message(s.Client, "Q1")).Kind);
        Assert.Empty(handler.At("ABORT"));
    }

    [Fact]
    public async Task QUIT_NC_starts_a_new_SMTP_session_on_the_same_connection_with_macros_cleared()
    {
        var handler = new ScriptedHandler();
        await using var s = PipeSession.Start(handler);
        await Begin(s.Client);
        await s.Client.SendMacrosAsync('M', ("i", "Q1"));
        await s.Client.MailAsync("<a@remote.example>");

        await s.Client.QuitNewConnectionAsync();
        var connect = await s.Client.ConnectAsync("other.example", ConnectFamily.Inet, 1, "198.51.100.9");
        await s.Client.HeloAsync("other.example");
        await s.Client.MailAsync("<b@remote.example>");
        await s.Client.QuitAsync();
        await s.WaitForEndAsync();

        Assert.Equal(VerdictKind.Continue, connect.Kind);
        // Each SMTP session ended with its message open: aborted, then closed.
        Assert.Equal(["CONNECT", "HELO", "MAIL", "ABORT", "CLOSE", "CONNECT", "HELO", "MAIL", "ABORT", "CLOSE"], handler.Stages);
        var second = handler.At("CONNECT").ElementAt(1);
        Assert.Empty(second.Macros);
        Assert.False(handler.At("MAIL").ElementAt(1).Macros.ContainsKey("i"));
        Assert.Equal(2, s.Session.Context.SmtpSessionCount);
        Assert.Empty(s.Logger.AtLeast(LogLevel.Warning));
    }

    [Fact]
    public async Task Without_CONNECT_negotiated_HELO_may_come_first()
    {
        var handler = new ScriptedHandler { Requirements = new HandlerRequirements { Stages = MilterStages.All & ~MilterStages.Connect } };
        await using var s = PipeSession.Start(handler);
        await s.Client.NegotiateAsync();
        Assert.True(s.Client.Negotiated!.Protocol.HasFlag(ProtocolFlags.NoConnect));

        Assert.False((await s.Client.ConnectAsync("h", ConnectFamily.Inet, 1, "192.0.2.1")).Sent);
        Assert.Equal(VerdictKind.Continue, (await s.Client.HeloAsync("client.example")).Kind);
        Assert.Equal(VerdictKind.Continue, (await Message(s.Client, "Q1")).Kind);
        await s.Client.QuitAsync();
        await s.WaitForEndAsync();

        Assert.Equal("HELO", handler.Stages.First());
        Assert.Equal(1, s.Session.Context.SmtpSessionCount);
        Assert.Empty(s.Logger.AtLeast(LogLevel.Warning));
    }

    [Fact]
    public async Task Without_MAIL_negotiated_RCPT_may_start_each_message()
    {
        var handler = new ScriptedHandler { Requirements = new HandlerRequirements { Stages = MilterStages.All & ~MilterStages.Mail } };
        await using var s = PipeSession.Start(handler);
        await Begin(s.Client);
        Assert.True(s.Client.Negotiated!.Protocol.HasFlag(ProtocolFlags.NoMail));

        for (var i = 0; i < 2; i++)
        {
            Assert.False((await s.Client.MailAsync("<a@remote.example>")).Sent);
            Assert.Equal(VerdictKind.Continue, (await s.Client.RcptAsync("<bob@example.com>")).Kind);
            Assert.Equal(VerdictKind.Continue, (await s.Client.DataAsync()).Kind);
            Assert.Equal(VerdictKind.Continue, (await s.Client.EndOfMessageAsync()).Kind);
        }
        Assert.Equal(2, handler.At("EOM").Count());
        Assert.Empty(s.Logger.AtLeast(LogLevel.Warning));
    }

    [Fact]
    public async Task Stages_negotiated_without_reply_get_no_reply_on_the_wire()
    {
        var handler = new ScriptedHandler
        {
            Requirements = new HandlerRequirements { Replies = MilterStages.All & ~(MilterStages.Rcpt | MilterStages.Header | MilterStages.Body) },
            Script = c => new(c.Stage == "EOM" ? Verdict.Accept : Verdict.Continue),
        };
        var input = Bytes.Concat(Bytes.SendmailOffer, Bytes.Connect4(), Bytes.Helo(), Bytes.Mail(), Bytes.Rcpt(), Bytes.Rcpt("<c@example.com>"),
            Bytes.Bare('T'), Bytes.Header("Subject", "x"), Bytes.Header("To", "y"), Bytes.Bare('N'), Bytes.Body("a"), Bytes.Body("b"),
            Bytes.Bare('E'), Bytes.Bare('Q'));

        var (output, s) = await PipeSession.FeedAsync(handler, input);

        var protocol = (uint)(ProtocolFlags.NoReplyRcpt | ProtocolFlags.NoReplyHeader | ProtocolFlags.NoReplyBody | ProtocolFlags.Skip);
        var c = Bytes.Reply('c');
        // OPTNEG, CONNECT, HELO, MAIL, DATA, EOH, EOM: nothing for RCPT, HEADER or BODY.
        Assert.Equal(Bytes.ToHex(Bytes.Concat(Bytes.Optneg(6, 0, protocol), c, c, c, c, c, Bytes.Reply('a'))), Bytes.ToHex(output));
        Assert.Equal(2, handler.At("RCPT").Count());
        Assert.Equal(2, handler.At("BODY").Count());
        Assert.Empty(s.Logger.AtLeast(LogLevel.Warning));
    }

    [Fact]
    public async Task A_handler_that_throws_gets_the_failure_verdict_for_that_stage_and_the_session_goes_on()
    {
        var handler = new ScriptedHandler
        {
            Script = c => c.Stage == "RCPT" && ((RcptCommand)c.Command!).Address == "boom@example.com"
                ? throw new InvalidOperationException("store is down")
                : default,
        };
        await using var s = PipeSession.Start(handler);
        await Begin(s.Client);
        await s.Client.MailAsync("<a@remote.example>");

        var failed = await s.Client.RcptAsync("<boom@example.com>");
        var next = await s.Client.RcptAsync("<bob@example.com>");

        Assert.Equal(FailureText, failed.ToString());
        Assert.Equal(ReplyCode.ReplyCode, failed.Code);
        Assert.Equal(VerdictKind.Continue, next.Kind);
        var error = Assert.Single(s.Logger.AtLeast(LogLevel.Warning));
        Assert.Equal(1004, error.EventId.Id);
        Assert.IsType<InvalidOperationException>(error.Exception);
        Assert.Contains("RCPT", error.Message, StringComparison.Ordinal);
        Assert.False(s.Run.IsCompleted);
    }

    public static TheoryData<string> Throwables => new() { "InvalidOperationException", "TimeoutException", "OperationCanceledException" };

    [Theory]
    [MemberData(nameof(Throwables))]
    public async Task A_handler_that_fails_asynchronously_gets_the_failure_verdict_at_once(string kind)
    {
        var handler = new ScriptedHandler
        {
            Script = async c =>
            {
                await Task.Yield();
                if (c.Stage == "MAIL")
                {
                    throw kind switch
                    {
                        "TimeoutException" => new TimeoutException("the store did not answer"),
                        "OperationCanceledException" => new OperationCanceledException("gave up on its own"),
                        _ => new InvalidOperationException("bug"),
                    };
                }
                return Verdict.Continue;
            },
        };
        var time = new ObservableTimeProvider();
        await using var s = PipeSession.Start(handler, time: time, pipes: PipeSession.Threaded);
        await Begin(s.Client);

        var mail = await s.Client.MailAsync("<a@remote.example>").WaitAsync(PipeSession.HangLimit);

        Assert.Equal(FailureText, mail.ToString());
        Assert.Equal(TimeSpan.Zero, time.GetUtcNow() - time.Fake.Start);
        Assert.Equal(1004, Assert.Single(s.Logger.AtLeast(LogLevel.Warning)).EventId.Id);
        Assert.Equal(VerdictKind.Continue, (await s.Client.RcptAsync("<bob@example.com>")).Kind);
    }

    [Fact]
    public async Task A_handler_that_throws_at_ABORT_or_close_is_logged_and_nothing_is_answered()
    {
        var handler = new ScriptedHandler { Script = c => c.Stage is "ABORT" or "CLOSE" ? throw new InvalidOperationException(c.Stage) : default };
        var input = Bytes.Concat(Bytes.SendmailOffer, Bytes.Connect4(), Bytes.Mail(), Bytes.Bare('A'), Bytes.Mail(), Bytes.Bare('Q'));

        var (output, s) = await PipeSession.FeedAsync(handler, input);

        var c = Bytes.Reply('c');
        Assert.Equal(Bytes.ToHex(Bytes.Concat(Bytes.Hex("0000000d4f00000006000001ff00000400"), c, c, c)), Bytes.ToHex(output));
        // The ABORT sent, then the second message's, left open at QUIT, then the close.
        Assert.Equal(["ABORT", "ABORT", "CLOSE"], s.Logger.AtLeast(LogLevel.Warning).Select(e => e.Exception!.Message));
    }

    [Fact]
    public async Task SKIP_is_sent_for_a_body_chunk_when_the_MTA_offered_it()
    {
        var handler = new ScriptedHandler { Script = c => new(c.Stage == "BODY" ? Verdict.SkipBody : Verdict.Continue) };
        await using var s = PipeSession.Start(handler);
        await Begin(s.Client);
        await s.Client.MailAsync("<a@remote.example>");
        await s.Client.RcptAsync("<bob@example.com>");

        var body = await s.Client.BodyChunksAsync(new byte[200_000]);

        Assert.Equal(ReplyCode.Skip, body.Code);
        Assert.Single(handler.At("BODY"));
        Assert.Equal(ReplyCode.Continue, (await s.Client.EndOfMessageAsync()).Code);
    }

    [Fact]
    public async Task SKIP_becomes_Continue_when_the_MTA_did_not_offer_it()
    {
        var handler = new ScriptedHandler { Script = c => new(c.Stage == "BODY" ? Verdict.SkipBody : Verdict.Continue) };
        await using var s = PipeSession.Start(handler);
        await s.Client.NegotiateAsync(MilterClient.Sendmail817Offer with { Protocol = (ProtocolFlags)0x1fffff & ~ProtocolFlags.Skip });
        await s.Client.ConnectAsync("h", ConnectFamily.Inet, 1, "192.0.2.1");
        await s.Client.MailAsync("<a@remote.example>");
        await s.Client.RcptAsync("<bob@example.com>");

        Assert.Equal(ReplyCode.Continue, (await s.Client.BodyAsync(new byte[10])).Code);
    }

    [Fact]
    public async Task SKIP_at_a_stage_other_than_BODY_is_sent_as_Continue()
    {
        // sendmail accepts SMFIR_SKIP only in answer to a body chunk.
        var handler = new ScriptedHandler { Script = _ => new(Verdict.SkipBody) };
        var input = Bytes.Concat(Bytes.SendmailOffer, Bytes.Connect4(), Bytes.Helo(), Bytes.Mail(), Bytes.Rcpt(), Bytes.Bare('T'),
            Bytes.Header("a", "b"), Bytes.Bare('N'), Bytes.Body("x"), Bytes.Frame('U', "XYZ"), Bytes.Bare('E'), Bytes.Bare('Q'));

        var (output, _) = await PipeSession.FeedAsync(handler, input);

        var c = Bytes.Reply('c');
        Assert.Equal(Bytes.ToHex(Bytes.Concat(Bytes.Hex("0000000d4f00000006000001ff00000400"), c, c, c, c, c, c, c, Bytes.Reply('s'), c, c)),
            Bytes.ToHex(output));
    }

    [Fact]
    public async Task A_MAIL_without_ABORT_after_an_unfinished_message_starts_a_new_one_with_its_own_macros()
    {
        // sendmail sends no ABORT to a filter that already accepted the message at MAIL; the next
        // transaction's MACRO M and MAIL simply follow.
        var handler = new ScriptedHandler { Script = c => new(c.Stage == "MAIL" && c.Context.QueueId == "Q1" ? Verdict.Accept : Verdict.Continue) };
        await using var s = PipeSession.Start(handler);
        await Begin(s.Client);
        await s.Client.SendMacrosAsync('M', ("i", "Q1"), ("{auth_authen}", "alice"));
        Assert.Equal(VerdictKind.Accept, (await s.Client.MailAsync("<a@remote.example>")).Kind);

        await s.Client.SendMacrosAsync('M', ("i", "Q2"), ("{auth_authen}", "bob"));
        await s.Client.MailAsync("<b@remote.example>");
        await s.Client.RcptAsync("<carol@example.com>");

        var second = handler.At("MAIL").ElementAt(1);
        Assert.Equal("Q2", second.Macros["i"]);
        Assert.Equal("bob", second.Macros["auth_authen"]);
        Assert.Equal("Q2", handler.At("RCPT").Single().Macros["i"]);
        Assert.Single(handler.At("ABORT"));
    }

    [Fact]
    public async Task EHLO_inside_an_unfinished_message_aborts_it_and_the_session_goes_on()
    {
        var handler = new ScriptedHandler { Script = c => new(c.Stage == "RCPT" ? Verdict.Accept : Verdict.Continue) };
        await using var s = PipeSession.Start(handler);
        await Begin(s.Client);
        await s.Client.SendMacrosAsync('M', ("i", "Q1"));
        await s.Client.MailAsync("<a@remote.example>");
        Assert.Equal(VerdictKind.Accept, (await s.Client.RcptAsync("<carol@example.com>")).Kind);

        // The filter accepted the message at RCPT, so sendmail owes it no ABORT; EHLO starts over.
        Assert.Equal(VerdictKind.Continue, (await s.Client.HeloAsync("client.remote.example")).Kind);
        await s.Client.MailAsync("<b@remote.example>");
        Assert.Equal(VerdictKind.Accept, (await s.Client.RcptAsync("<carol@example.com>")).Kind);

        Assert.Single(handler.At("ABORT"));
        Assert.Equal(2, handler.At("MAIL").Count());
    }

    [Fact]
    public async Task Every_modification_is_sent_in_order_before_the_final_verdict()
    {
        var handler = new ScriptedHandler
        {
            Script = c =>
            {
                if (c.Stage != "EOM") return default;
                var m = c.Modifier!;
                m.AddHeader("X-Standin", "checked");
                m.InsertHeader(0, "X-First", "1");
                m.ChangeHeader(1, "Subject", "[tagged] hi");
                m.AddRecipient("<archive@example.com>");
                m.AddRecipient("<audit@example.com>", "NOTIFY=NEVER");
                m.DeleteRecipient("<bob@example.com>");
                m.ChangeFrom("<bounce@example.com>", "SIZE=10");
                m.ReplaceBody("new body\r\n"u8);
                m.Quarantine("held for review");
                return new(Verdict.Discard);
            },
        };
        await using var s = PipeSession.Start(handler);
        await Begin(s.Client);

        var eom = await Message(s.Client, "Q1");

        Assert.Equal(ReplyCode.Discard, eom.Code);
        Modification[] expected =
        [
            new AddHeaderModification("X-Standin", "checked"),
            new InsertHeaderModification(0, "X-First", "1"),
            new ChangeHeaderModification(1, "Subject", "[tagged] hi"),
            new AddRecipientModification("<archive@example.com>"),
            new AddRecipientModification("<audit@example.com>", "NOTIFY=NEVER"),
            new DeleteRecipientModification("<bob@example.com>"),
            new ChangeFromModification("<bounce@example.com>", "SIZE=10"),
        ];
        Assert.Equal(expected, eom.Modifications.Take(7));
        Assert.Equal("new body\r\n"u8.ToArray(), Assert.IsType<ReplaceBodyModification>(eom.Modifications[7]).Chunk.ToArray());
        Assert.Equal(new QuarantineModification("held for review"), eom.Modifications[8]);
    }

    [Fact]
    public async Task A_modification_the_MTA_did_not_allow_fails_the_message_and_sends_no_modification()
    {
        var handler = new ScriptedHandler
        {
            Script = c =>
            {
                if (c.Stage == "EOM") c.Modifier!.ChangeFrom("<x@example.com>");
                return default;
            },
        };
        await using var s = PipeSession.Start(handler);
        await s.Client.NegotiateAsync(MilterClient.Sendmail817Offer with { Actions = ActionFlags.AddHeaders });
        await s.Client.ConnectAsync("h", ConnectFamily.Inet, 1, "192.0.2.1");
        await s.Client.HeloAsync("h");

        var eom = await Message(s.Client, "Q1");

        Assert.Equal(FailureText, eom.ToString());
        Assert.Empty(eom.Modifications);
        Assert.IsType<InvalidOperationException>(Assert.Single(s.Logger.AtLeast(LogLevel.Warning), e => e.Exception is not null).Exception);
    }

    [Fact]
    public async Task Actions_the_handler_needs_and_the_MTA_does_not_offer_are_logged_at_negotiation_and_missing_from_what_the_modifier_grants()
    {
        ActionFlags? granted = null;
        var handler = new ScriptedHandler
        {
            Requirements = HandlerRequirements.Everything with { Actions = ActionFlags.AddHeaders | ActionFlags.ChangeHeaders | ActionFlags.DeleteRecipient },
            Script = c =>
            {
                if (c.Stage == "EOM") granted = c.Modifier!.Granted;
                return default;
            },
        };
        await using var s = PipeSession.Start(handler);
        await s.Client.NegotiateAsync(MilterClient.Sendmail817Offer with { Actions = ActionFlags.AddHeaders | ActionFlags.SetSymbolList });
        await s.Client.ConnectAsync("h", ConnectFamily.Inet, 1, "192.0.2.1");
        await s.Client.HeloAsync("h");

        var eom = await Message(s.Client, "Q1");

        Assert.Equal(ReplyCode.Continue, eom.Code);
        Assert.Equal(ActionFlags.AddHeaders, granted);
        var warning = Assert.Single(s.Logger.AtLeast(LogLevel.Warning));
        Assert.StartsWith("milter connection 7: the MTA does not offer the actions DeleteRecipient, ChangeHeaders (it offered 0x101)", warning.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_body_chunk_riding_on_end_of_message_reaches_the_handler_and_only_the_verdict_is_answered()
    {
        var handler = new ScriptedHandler { Script = c => new(c.Stage == "EOM" ? Verdict.Accept : Verdict.Continue) };
        var input = Bytes.Concat(Bytes.SendmailOffer, Bytes.Connect4(), Bytes.Mail(), Bytes.Rcpt(), Bytes.Frame('E', "last chunk\r\n"u8.ToArray()), Bytes.Bare('Q'));

        var (output, _) = await PipeSession.FeedAsync(handler, input);

        var c = Bytes.Reply('c');
        Assert.Equal(Bytes.ToHex(Bytes.Concat(Bytes.Hex("0000000d4f00000006000001ff00000400"), c, c, c, Bytes.Reply('a'))), Bytes.ToHex(output));
        Assert.Equal("last chunk\r\n"u8.ToArray(), (byte[])handler.At("BODY").Single().Command!);
        Assert.Equal(["CONNECT", "MAIL", "RCPT", "BODY", "EOM", "CLOSE"], handler.Stages);
    }

    [Fact]
    public async Task UNKNOWN_and_a_repeated_HELO_are_answered_between_stages()
    {
        var handler = new ScriptedHandler { Script = c => new(c.Stage == "UNKNOWN" ? Verdict.Reject(new SmtpReply(500, "5.5.1", "no such command")) : Verdict.Continue) };
        await using var s = PipeSession.Start(handler);
        await Begin(s.Client);

        var unknown = await s.Client.UnknownAsync("XFOO");
        var ehlo = await s.Client.HeloAsync("client.example");
        var eom = await Message(s.Client, "Q1");

        Assert.Equal("500 5.5.1 no such command", unknown.ToString());
        Assert.Equal(VerdictKind.Continue, ehlo.Kind);
        Assert.Equal(VerdictKind.Continue, eom.Kind);
        Assert.Equal("XFOO", ((UnknownCommand)handler.At("UNKNOWN").Single().Command!).Line);
    }

    [Fact]
    public async Task Macros_for_stages_not_asked_for_and_unknown_stage_letters_are_tolerated()
    {
        var handler = new ScriptedHandler { Requirements = new HandlerRequirements { Stages = MilterStages.Rcpt } };
        var input = Bytes.Concat(Bytes.SendmailOffer, Bytes.Macro('C', ("j", "mx")), Bytes.Macro('Z', ("odd", "1")), Bytes.Macro('T', ("x", "y")),
            Bytes.Macro('R', ("{rcpt_addr}", "bob")), Bytes.Rcpt(), Bytes.Bare('Q'));

        var (output, s) = await PipeSession.FeedAsync(handler, input);

        var rcpt = handler.At("RCPT").Single();
        Assert.Equal("mx", rcpt.Macros["j"]);
        Assert.Equal("bob", rcpt.Macros["rcpt_addr"]);
        Assert.Equal("y", rcpt.Macros["x"]);
        Assert.False(rcpt.Macros.ContainsKey("odd"));
        Assert.EndsWith("0000000163", Bytes.ToHex(output), StringComparison.Ordinal);
        Assert.Empty(s.Logger.AtLeast(LogLevel.Warning));
    }

    [Fact]
    public async Task A_hard_stop_ends_a_waiting_session_quietly_and_closes_the_SMTP_session()
    {
        var handler = new ScriptedHandler();
        var s = PipeSession.Start(handler);
        await Begin(s.Client);

        await s.DisposeAsync();

        Assert.True(s.Run.IsCompletedSuccessfully);
        Assert.Empty(s.Logger.AtLeast(LogLevel.Information));
        Assert.Equal("CLOSE", handler.Stages.Last());
    }

    [Fact]
    public async Task Header_values_keep_their_leading_space_when_the_handler_asked_for_it()
    {
        var handler = new ScriptedHandler { Requirements = new HandlerRequirements { HeaderLeadingSpace = true } };
        await using var s = PipeSession.Start(handler);
        await s.Client.NegotiateAsync();
        Assert.True(s.Client.Negotiated!.Protocol.HasFlag(ProtocolFlags.HeaderLeadingSpace));
        await s.Client.ConnectAsync("h", ConnectFamily.Inet, 1, "192.0.2.1");
        await s.Client.MailAsync("<a@remote.example>");
        await s.Client.RcptAsync("<b@example.com>");
        await s.Client.HeaderAsync("Subject", " spaced");
        Assert.Equal(" spaced", ((HeaderCommand)handler.At("HEADER").Single().Command!).Value);
    }
}
