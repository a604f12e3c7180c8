using Milter.Protocol.Client;
using Milter.Protocol.Commands;
using Milter.Protocol.Negotiation;
using Milter.Protocol.Replies;
using Milter.Protocol.Tests.Support;
using Milter.Protocol.Wire;

namespace Milter.Protocol.Tests;

/// <summary>The MTA half: what it writes for each call, and how it honours the filter's negotiation.</summary>
public sealed class MilterClientTests
{
    private static readonly byte[] Continue = Bytes.Reply('c');

    private static async Task<ScriptedFilter> Negotiated(uint protocol = 0x400, uint actions = 0x1ff, params object[] macroLists)
    {
        var f = new ScriptedFilter();
        f.Reply(Bytes.Frame('O', [6u, actions, protocol, .. macroLists]));
        await f.Client.NegotiateAsync();
        Assert.Equal(Bytes.ToHex(Bytes.SendmailOffer), Bytes.ToHex(f.TakeWritten()));
        return f;
    }

    [Fact]
    public async Task Each_command_is_written_with_the_documented_layout()
    {
        var f = await Negotiated();
        var c = f.Client;
        f.Reply(Enumerable.Repeat(Continue, 9).ToArray());

        await c.SendMacrosAsync('C', ("j", "mx.example.com"), ("{client_addr}", "192.0.2.7"));
        Assert.Equal(Bytes.ToHex(Bytes.Macro('C', ("j", "mx.example.com"), ("{client_addr}", "192.0.2.7"))), Bytes.ToHex(f.TakeWritten()));
        await c.ConnectAsync("client.example", ConnectFamily.Inet, 4321, "192.0.2.7");
        Assert.Equal(Bytes.ToHex(Bytes.Connect4()), Bytes.ToHex(f.TakeWritten()));
        await c.HeloAsync("client.example");
        Assert.Equal(Bytes.ToHex(Bytes.Helo("client.example")), Bytes.ToHex(f.TakeWritten()));
        await c.MailAsync("sender@remote.example", ["BODY=8BITMIME"]);
        Assert.Equal(Bytes.ToHex(Bytes.Mail("<sender@remote.example>", "BODY=8BITMIME")), Bytes.ToHex(f.TakeWritten()));
        await c.MailAsync("");
        Assert.Equal(Bytes.ToHex(Bytes.Mail("<>")), Bytes.ToHex(f.TakeWritten()));
        await c.RcptAsync("<alice@example.com>", ["NOTIFY=NEVER", "ORCPT=rfc822;alice@example.com"]);
        Assert.Equal(Bytes.ToHex(Bytes.Rcpt("<alice@example.com>", "NOTIFY=NEVER", "ORCPT=rfc822;alice@example.com")), Bytes.ToHex(f.TakeWritten()));
        await c.DataAsync();
        Assert.Equal("0000000154", Bytes.ToHex(f.TakeWritten()));
        await c.HeaderAsync("Subject", "hi");
        Assert.Equal(Bytes.ToHex(Bytes.Header("Subject", "hi")), Bytes.ToHex(f.TakeWritten()));
        await c.EndOfHeadersAsync();
        Assert.Equal("000000014e", Bytes.ToHex(f.TakeWritten()));
        await c.BodyAsync("hello\r\n"u8.ToArray());
        Assert.Equal(Bytes.ToHex(Bytes.Body("hello\r\n")), Bytes.ToHex(f.TakeWritten()));

        f.Reply(Bytes.Reply('a'));
        await c.EndOfMessageAsync();
        Assert.Equal("0000000145", Bytes.ToHex(f.TakeWritten()));
        f.Reply(Continue);
        await c.UnknownAsync("XYZZY now");
        Assert.Equal(Bytes.ToHex(Bytes.Frame('U', "XYZZY now")), Bytes.ToHex(f.TakeWritten()));
        await c.AbortAsync();
        await c.QuitNewConnectionAsync();
        await c.QuitAsync();
        Assert.Equal("0000000141" + "000000014b" + "0000000151", Bytes.ToHex(f.TakeWritten()));
    }

    [Fact]
    public async Task Stages_the_filter_skipped_are_not_sent_and_declined_replies_not_awaited()
    {
        var noHelo = (uint)(ProtocolFlags.NoHelo | ProtocolFlags.NoReplyRcpt | ProtocolFlags.NoHeaders);
        var f = await Negotiated(noHelo);

        var helo = await f.Client.HeloAsync("x");
        Assert.False(helo.Sent);
        var header = await f.Client.HeaderAsync("Subject", "x");
        Assert.False(header.Sent);
        Assert.Empty(f.TakeWritten());

        var rcpt = await f.Client.RcptAsync("<a@example.com>");
        Assert.True(rcpt.Sent);
        Assert.False(rcpt.Awaited);
        Assert.Equal(Bytes.ToHex(Bytes.Rcpt("<a@example.com>")), Bytes.ToHex(f.TakeWritten()));
    }

    [Fact]
    public async Task Only_the_macros_the_filter_listed_are_sent_for_a_listed_stage()
    {
        var f = await Negotiated(0x400, 0x1ff, 0u, "{client_addr} j", 2u, "i");

        await f.Client.SendMacrosAsync('C', ("j", "mx"), ("_", "x [1.2.3.4]"), ("{client_addr}", "1.2.3.4"), ("client_name", "x"));
        Assert.Equal(Bytes.ToHex(Bytes.Macro('C', ("j", "mx"), ("{client_addr}", "1.2.3.4"))), Bytes.ToHex(f.TakeWritten()));
        // A stage without a list gets everything.
        await f.Client.SendMacrosAsync('R', ("{rcpt_addr}", "bob"));
        Assert.Equal(Bytes.ToHex(Bytes.Macro('R', ("{rcpt_addr}", "bob"))), Bytes.ToHex(f.TakeWritten()));
        Assert.Equal("i", f.Client.Negotiated!.MacroLists![MacroStage.EnvFrom]);
    }

    [Fact]
    public async Task A_body_is_sent_in_chunks_of_at_most_65535_bytes_until_the_filter_says_SKIP()
    {
        var f = await Negotiated();
        var body = new byte[150_000];
        f.Reply(Continue, Continue, Continue);
        var last = await f.Client.BodyChunksAsync(body);
        Assert.Equal(VerdictKind.Continue, last.Kind);
        var written = f.TakeWritten();
        Assert.Equal(3 * 5 + 150_000, written.Length);
        Assert.Equal("0001000042", Bytes.ToHex(written.AsSpan(0, 5)));
        Assert.Equal("000049f342", Bytes.ToHex(written.AsSpan(2 * 65540, 5))); // 150000 - 2*65535 = 18930 = 0x49f2, + 1

        f.Reply(Bytes.Reply('s'));
        var skipped = await f.Client.BodyChunksAsync(body);
        Assert.Equal(VerdictKind.Skip, skipped.Kind);
        Assert.Equal(65540, f.TakeWritten().Length);
    }

    [Fact]
    public async Task End_of_message_collects_modifications_and_progress_before_the_verdict()
    {
        var f = await Negotiated();
        f.Reply(Bytes.Reply('p'), Bytes.Frame('h', "X-A", "1"), Bytes.Reply('p'), Bytes.Frame('-', "<old@example.com>"),
            Bytes.ReplyCode("550-5.7.1 100%% bad\r\n550 5.7.1 go away"));

        var r = await f.Client.EndOfMessageAsync();

        Assert.Equal(2, r.ProgressCount);
        Assert.Equal([new AddHeaderModification("X-A", "1"), new DeleteRecipientModification("<old@example.com>")], r.Modifications);
        Assert.Equal(VerdictKind.Reject, r.Kind);
        Assert.Equal(550, r.Reply!.Code);
        Assert.Equal("5.7.1", r.Reply.Enhanced);
        Assert.Equal(["100% bad", "go away"], r.Reply.Lines);
    }

    [Fact]
    public async Task A_modification_outside_end_of_message_is_an_unexpected_reply()
    {
        var f = await Negotiated();
        f.Reply(Bytes.Frame('h', "X-A", "1"));
        var e = await Assert.ThrowsAsync<MilterProtocolException>(() => f.Client.HeloAsync("x"));
        Assert.Equal(ProtocolViolation.UnexpectedReply, e.Violation);
    }

    [Fact]
    public async Task A_filter_that_hangs_up_ends_the_read_with_end_of_stream()
    {
        var f = await Negotiated();
        f.Close();
        await Assert.ThrowsAsync<EndOfStreamException>(() => f.Client.HeloAsync("x"));
        Assert.Null(await f.Client.TryReadFrameAsync());
    }

    [Fact]
    public async Task A_non_OPTNEG_answer_to_OPTNEG_is_an_unexpected_reply()
    {
        var f = new ScriptedFilter();
        f.Reply(Bytes.Reply('c'));
        var e = await Assert.ThrowsAsync<MilterProtocolException>(() => f.Client.NegotiateAsync());
        Assert.Equal(ProtocolViolation.UnexpectedReply, e.Violation);
    }

    [Fact]
    public void The_sendmail_817_offer_is_version_6_all_actions_and_flags_up_to_HDR_LEADSPC()
    {
        Assert.Equal(new OptionNegotiation(6, ActionFlags.All, (ProtocolFlags)0x1fffff), MilterClient.Sendmail817Offer);
    }

    [Fact]
    public async Task Disposing_a_client_whose_filter_closed_the_connection_does_not_throw()
    {
        var folder = Directory.CreateTempSubdirectory("milter-client-");
        try
        {
            var path = Path.Combine(folder.FullName, "filter.sock");
            using var listener = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.Unix, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Unspecified);
            listener.Bind(new System.Net.Sockets.UnixDomainSocketEndPoint(path));
            listener.Listen();
            var client = await MilterClient.ConnectAsync(new System.Net.Sockets.UnixDomainSocketEndPoint(path));
            using (var accepted = await listener.AcceptAsync())
                accepted.Close();

            // The filter is gone: the write fails and leaves its frame buffered.
            await Assert.ThrowsAnyAsync<IOException>(async () =>
            {
                await client.AbortAsync();
                await client.QuitAsync();
            });
            await client.DisposeAsync();
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }
}
