using System.Buffers;
using Milter.Protocol.Client;
using Milter.Protocol.Commands;
using Milter.Protocol.Wire;

namespace Milter.Micro;

/// <summary>A sendmail 8.17 conversation for one message, as bytes: what an MTA sends a filter.</summary>
internal static class Conversation
{
    public static byte[] Build(out int frames)
    {
        var w = new ArrayBufferWriter<byte>();
        var n = 0;
        CommandCodec.WriteOptionNegotiation(w, (byte)CommandCode.OptionNegotiation, MilterClient.Sendmail817Offer); n++;
        CommandCodec.WriteMacros(w, 'C', Pairs(("j", "mx.example.com"), ("_", "mail.remote.example [203.0.113.9]"), ("{daemon_name}", "MTA-v4"),
            ("{if_name}", "localhost"), ("{client_addr}", "203.0.113.9"), ("{client_name}", "mail.remote.example"), ("{client_port}", "58576"))); n++;
        CommandCodec.WriteConnect(w, new ConnectCommand("mail.remote.example", ConnectFamily.Inet, 58576, "203.0.113.9")); n++;
        CommandCodec.WriteMacros(w, 'H', []); n++;
        FrameWriter.WriteStrings(w, (byte)CommandCode.Helo, "mail.remote.example"); n++;
        CommandCodec.WriteMacros(w, 'M', Pairs(("i", "6ASKqX0x009129"), ("{mail_mailer}", "esmtp"), ("{mail_host}", "remote.example."), ("{mail_addr}", "sender@remote.example"))); n++;
        FrameWriter.WriteStrings(w, (byte)CommandCode.Mail, "<sender@remote.example>", "BODY=8BITMIME", "SIZE=4711"); n++;
        foreach (var r in new[] { "alice", "bob" })
        {
            CommandCodec.WriteMacros(w, 'R', Pairs(("{rcpt_mailer}", "local"), ("{rcpt_host}", ""), ("{rcpt_addr}", r))); n++;
            FrameWriter.WriteStrings(w, (byte)CommandCode.Rcpt, $"<{r}@example.com>"); n++;
        }
        FrameWriter.Write(w, (byte)CommandCode.Data); n++;
        string[][] headers =
        [
            ["Received", "from mail.remote.example (mail.remote.example [203.0.113.9])\n\tby mx.example.com (8.17.1.9/8.17.1.9) with ESMTP id 6ASKqX0x009129"],
            ["Date", "Sat, 28 Nov 2026 20:52:33 +0000"], ["To", "alice@example.com, bob@example.com"],
            ["From", "Sender <sender@remote.example>"], ["Subject", "quarterly report"],
            ["Message-Id", "<20261128205233.009128@remote.example>"], ["MIME-Version", "1.0"],
            ["Content-Type", "text/plain; charset=utf-8"], ["Content-Transfer-Encoding", "8bit"], ["X-Mailer", "swaks"],
        ];
        foreach (var h in headers) { FrameWriter.WriteStrings(w, (byte)CommandCode.Header, h[0], h[1]); n++; }
        FrameWriter.Write(w, (byte)CommandCode.EndOfHeaders); n++;
        var body = new byte[4096];
        for (var i = 0; i < body.Length; i++) body[i] = (byte)(i % 78 == 76 ? '\r' : i % 78 == 77 ? '\n' : 'a' + i % 26);
        FrameWriter.Write(w, (byte)CommandCode.Body, body); n++;
        CommandCodec.WriteMacros(w, 'E', Pairs(("{msg_id}", "<20261128205233.009128@remote.example>"))); n++;
        FrameWriter.Write(w, (byte)CommandCode.EndOfMessage); n++;
        frames = n;
        return w.WrittenSpan.ToArray();
    }

    private static KeyValuePair<string, string>[] Pairs(params (string, string)[] p) =>
        p.Select(x => new KeyValuePair<string, string>(x.Item1, x.Item2)).ToArray();
}
