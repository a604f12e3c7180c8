using System.Net;
using System.Text;
using Milter.Protocol.Commands;
using Milter.Protocol.Tests.Support;

namespace Milter.Protocol.Tests;

/// <summary>What a handler is told while the captured conversations replay: commands and macros.</summary>
public sealed class CaptureFactsTests
{
    private static async Task<ScriptedHandler> Replay(string name)
    {
        var filter = ReferenceFilter.Create(ReferenceFilter.Greylists(name));
        await PipeSession.FeedAsync(filter, Capture.Load(name).MtaStream);
        return filter;
    }

    [Fact]
    public async Task Connect_macros_and_the_queue_id_are_visible_at_RCPT_and_EOM()
    {
        var filter = await Replay("accepted-two-rcpts");

        var connect = Assert.IsType<ConnectCommand>(filter.At("CONNECT").Single().Command);
        Assert.Equal(new ConnectCommand("localhost", ConnectFamily.Inet, 0xe4d0, "127.0.0.1"), connect);
        Assert.Equal(IPAddress.Loopback, connect.IPAddress);
        Assert.Equal("client.remote.example", Assert.IsType<HeloCommand>(filter.At("HELO").Single().Command).Name);

        var rcpts = filter.At("RCPT").ToArray();
        Assert.Equal(["<alice@example.com>", "<bob@example.com>"], rcpts.Select(r => ((RcptCommand)r.Command!).Recipient));
        foreach (var rcpt in rcpts)
        {
            Assert.Equal("6ASKqX0x009129", rcpt.Macros["i"]);
            Assert.Equal("127.0.0.1", rcpt.Macros["client_addr"]);
            Assert.Equal("mx.example.com", rcpt.Macros["j"]);
            Assert.Equal("Sender@Remote.Example", rcpt.Macros["mail_addr"]);
        }
        // The RCPT macro set is replaced per recipient, not merged.
        Assert.Equal(["alice", "bob"], rcpts.Select(r => r.Macros["rcpt_addr"]));

        var eom = filter.At("EOM").Single();
        Assert.Equal("<20261128205233.009128@vm.localdomain>", eom.Macros["msg_id"]);
        Assert.Equal("6ASKqX0x009129", eom.Macros["i"]);
        Assert.Equal("58576", eom.Macros["client_port"]);

        Assert.Equal(["Date", "To", "From", "Subject", "Message-Id", "X-Mailer"],
            filter.At("HEADER").Select(h => ((HeaderCommand)h.Command!).Name));
        Assert.Equal("quarterly report", filter.At("HEADER").Select(h => (HeaderCommand)h.Command!).Single(h => h.Name == "Subject").Value);
        Assert.Equal("This is a test mailing\r\n\r\n\r\n", Encoding.ASCII.GetString((byte[])filter.At("BODY").Single().Command!));
        Assert.Equal(["CONNECT", "HELO", "MAIL", "RCPT", "RCPT", "DATA", "HEADER", "HEADER", "HEADER", "HEADER", "HEADER", "HEADER", "EOH", "BODY", "EOM", "CLOSE"],
            filter.Seen.Select(s => s.Stage));
    }

    [Fact]
    public async Task An_IPv6_client_arrives_as_family_6_with_its_tagged_address()
    {
        var filter = await Replay("ipv6-client");

        var connect = Assert.IsType<ConnectCommand>(filter.At("CONNECT").Single().Command);
        Assert.Equal(ConnectFamily.Inet6, connect.Family);
        Assert.Equal("IPv6:0:0:0:0:0:0:0:1", connect.Address);
        Assert.Equal(50576, connect.Port);
        Assert.Equal(IPAddress.IPv6Loopback, connect.IPAddress);
        Assert.Equal("IPv6:0:0:0:0:0:0:0:1", filter.At("RCPT").Single().Macros["client_addr"]);
        Assert.Equal("MTA-v6", filter.At("EOM").Single().Macros["daemon_name"]);
    }

    [Fact]
    public async Task A_200_KB_body_arrives_as_three_full_chunks_and_a_remainder()
    {
        var filter = await Replay("large-body");

        var chunks = filter.At("BODY").Select(b => (byte[])b.Command!).ToArray();
        Assert.Equal([65535, 65535, 65535, 3399], chunks.Select(c => c.Length));
        var body = Encoding.ASCII.GetString(chunks.SelectMany(c => c).ToArray());
        Assert.Equal(200_004, body.Length);
        // swaks ends the body with two empty lines.
        Assert.EndsWith("message\r\n\r\n\r\n", body, StringComparison.Ordinal);
        var lines = body[..^6].Split("\r\n");
        Assert.Equal(5000, lines.Length);
        Assert.All(lines, l => Assert.Equal("line of body text for a larger message", l));
        Assert.Single(filter.At("EOM"));
    }

    [Fact]
    public async Task Mixed_recipients_carry_their_own_mailer_macros()
    {
        var filter = await Replay("mixed-rcpts");

        var rcpts = filter.At("RCPT").ToArray();
        Assert.Equal(["<alice@example.com>", "<nobody@example.com>", "<someone@example.net>"], rcpts.Select(r => ((RcptCommand)r.Command!).Recipient));
        Assert.Equal(["local", "local", "esmtp"], rcpts.Select(r => r.Macros["rcpt_mailer"]));
        Assert.Equal("example.net.", rcpts[2].Macros["rcpt_host"]);
        Assert.Equal("[127.0.0.5]", rcpts[0].Macros["client_name"]);
        // The message went on after two refused recipients.
        Assert.Single(filter.At("EOM"));
    }

    [Fact]
    public async Task RSET_then_two_messages_each_see_their_own_queue_id_and_arguments()
    {
        var filter = await Replay("rset-and-two-messages");

        var mails = filter.At("MAIL").ToArray();
        Assert.Equal(["6ASKqhwp009519", "6ASKqhwq009519", "6ASKqhwr009519"], mails.Select(m => m.Macros["i"]));
        Assert.Equal(["<first@remote.example>", "<sender0@remote.example>", "<sender1@remote.example>"], mails.Select(m => ((MailCommand)m.Command!).Sender));
        Assert.Equal(["size=81"], ((MailCommand)mails[1].Command!).Arguments);
        Assert.Empty(((MailCommand)mails[0].Command!).Arguments);
        // After ABORT the first message's recipient macros are gone; the connection's stay.
        Assert.False(mails[1].Macros.ContainsKey("rcpt_addr"));
        Assert.Equal("127.0.0.1", mails[1].Macros["client_addr"]);
        // After a completed message the next one starts clean: no msg_id from the first.
        Assert.False(mails[2].Macros.ContainsKey("msg_id"));
        Assert.Single(filter.At("ABORT"));
        Assert.Equal(["<202611282052.6ASKqhwq009519@mx.example.com>", "<202611282052.6ASKqhwr009519@mx.example.com>"],
            filter.At("EOM").Select(e => e.Macros["msg_id"]));
    }

    [Fact]
    public async Task Postfix_sends_unknown_client_name_no_queue_id_before_DATA_and_ABORT_twice()
    {
        var filter = await Replay("postfix-greylisted");

        var connect = Assert.IsType<ConnectCommand>(filter.At("CONNECT").Single().Command);
        Assert.Equal("[127.0.0.5]", connect.HostName);
        var rcpt = filter.At("RCPT").First();
        Assert.Equal("unknown", rcpt.Macros["client_name"]);
        Assert.Equal("Postfix 3.7.11", rcpt.Macros["v"]);
        Assert.Equal("relay", rcpt.Macros["mail_mailer"]);
        Assert.False(rcpt.Macros.ContainsKey("i"));
        Assert.Equal(2, filter.At("RCPT").Count());
        // The second ABORT has no message left to abandon.
        Assert.Single(filter.At("ABORT"));
        Assert.Equal("CLOSE", filter.Seen[^1].Stage);
    }

    [Fact]
    public async Task A_client_refused_at_CONNECT_is_seen_only_at_CONNECT_and_close()
    {
        var filter = await Replay("banned-connect");

        Assert.Equal(["CONNECT", "CLOSE"], filter.Seen.Select(s => s.Stage));
        Assert.Equal("[127.0.0.66]", ((ConnectCommand)filter.Seen[0].Command!).HostName);
        Assert.Equal("127.0.0.66", filter.Seen[0].Macros["client_addr"]);
    }

    [Fact]
    public async Task A_message_refused_at_its_Subject_header_sees_no_further_stage()
    {
        var filter = await Replay("subject-banned");

        var last = (HeaderCommand)filter.At("HEADER").Last().Command!;
        Assert.Equal(new HeaderCommand("Subject", "Cheap meds today"), last);
        Assert.Empty(filter.At("EOH"));
        Assert.Empty(filter.At("EOM"));
    }

    [Fact]
    public async Task The_null_sender_capture_passes_its_sender_and_local_mailer_macros()
    {
        var filter = await Replay("null-sender");

        // The recorded MAIL carries sendmail's own bounce address, not "<>": the capture is what sendmail did.
        var mail = filter.At("MAIL").Single();
        Assert.Equal("<root@vm.localdomain>", ((MailCommand)mail.Command!).Sender);
        Assert.Equal("local", mail.Macros["mail_mailer"]);
        Assert.Equal("", mail.Macros["mail_host"]);
        Assert.Equal("Undelivered Mail Returned to Sender", filter.At("HEADER").Select(h => (HeaderCommand)h.Command!).Single(h => h.Name == "Subject").Value);
    }
}
