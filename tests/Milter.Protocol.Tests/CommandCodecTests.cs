using System.Buffers;
using System.Text;
using Milter.Protocol.Commands;
using Milter.Protocol.Negotiation;
using Milter.Protocol.Tests.Support;
using Milter.Protocol.Wire;

namespace Milter.Protocol.Tests;

/// <summary>Each MTA command parsed from the layout in milter-protocol.md, and written back.</summary>
public sealed class CommandCodecTests
{
    private static byte[] PayloadOf(byte[] frame) => frame[5..];

    [Fact]
    public void OPTNEG_offer_parses_to_version_actions_and_protocol()
    {
        var o = CommandCodec.ParseOptionNegotiation(PayloadOf(Bytes.SendmailOffer));
        Assert.Equal(6u, o.Version);
        Assert.Equal(ActionFlags.All, o.Actions);
        Assert.Equal((ProtocolFlags)0x1fffff, o.Protocol);
        Assert.Null(o.MacroLists);
    }

    [Fact]
    public void OPTNEG_answer_with_macro_lists_is_written_in_stage_order_and_parses_back()
    {
        var answer = new OptionNegotiation(6, ActionFlags.AddHeaders | ActionFlags.SetSymbolList, ProtocolFlags.Skip,
            new Dictionary<MacroStage, string> { [MacroStage.EnvRcpt] = "{rcpt_addr}", [MacroStage.Connect] = "j {client_addr}" });
        var w = new ArrayBufferWriter<byte>();
        CommandCodec.WriteOptionNegotiation(w, (byte)'O', answer);

        var expected = Bytes.Frame('O', 6u, 0x101u, 0x400u, 0u, "j {client_addr}", 3u, "{rcpt_addr}");
        Assert.Equal(Bytes.ToHex(expected), Bytes.ToHex(w.WrittenSpan));
        var back = CommandCodec.ParseOptionNegotiation(PayloadOf(expected));
        Assert.Equal(answer.Version, back.Version);
        Assert.Equal(answer.Actions, back.Actions);
        Assert.Equal(answer.Protocol, back.Protocol);
        Assert.Equal(answer.MacroLists!.OrderBy(kv => kv.Key), back.MacroLists!.OrderBy(kv => kv.Key));
    }

    [Fact]
    public void OPTNEG_answer_writes_every_stage_in_order_and_a_stage_beyond_the_seven_last()
    {
        var lists = new Dictionary<MacroStage, string>();
        foreach (var stage in new uint[] { 9, 6, 5, 4, 3, 2, 1, 0 })
            lists[(MacroStage)stage] = $"m{stage}";
        var w = new ArrayBufferWriter<byte>();
        CommandCodec.WriteOptionNegotiation(w, (byte)'O', new OptionNegotiation(6, ActionFlags.None, ProtocolFlags.None, lists));

        var expected = Bytes.Frame('O', 6u, 0u, 0u, 0u, "m0", 1u, "m1", 2u, "m2", 3u, "m3", 4u, "m4", 5u, "m5", 6u, "m6", 9u, "m9");
        Assert.Equal(Bytes.ToHex(expected), Bytes.ToHex(w.WrittenSpan));

        lists.Remove((MacroStage)9);
        lists.Remove(MacroStage.Helo);
        w.Clear();
        CommandCodec.WriteOptionNegotiation(w, (byte)'O', new OptionNegotiation(6, ActionFlags.None, ProtocolFlags.None, lists));
        expected = Bytes.Frame('O', 6u, 0u, 0u, 0u, "m0", 2u, "m2", 3u, "m3", 4u, "m4", 5u, "m5", 6u, "m6");
        Assert.Equal(Bytes.ToHex(expected), Bytes.ToHex(w.WrittenSpan));
    }

    [Theory]
    [InlineData("")]
    [InlineData("00000006")]
    [InlineData("00000006000001ff001fff")]
    [InlineData("00000006000001ff001fffff00000000")]
    [InlineData("00000006000001ff001fffff000000006a")]
    public void OPTNEG_cut_short_is_malformed(string payloadHex)
    {
        var e = Assert.Throws<MilterProtocolException>(() => CommandCodec.ParseOptionNegotiation(Bytes.Hex(payloadHex)));
        Assert.Equal(ProtocolViolation.MalformedPayload, e.Violation);
    }

    [Fact]
    public void CONNECT_over_IPv4_parses_host_family_port_and_address()
    {
        var c = CommandCodec.ParseConnect(PayloadOf(Bytes.Connect4("mail.example", "192.0.2.7", 25)));
        Assert.Equal(new ConnectCommand("mail.example", ConnectFamily.Inet, 25, "192.0.2.7"), c);
        Assert.Equal(System.Net.IPAddress.Parse("192.0.2.7"), c.IPAddress);
    }

    [Fact]
    public void CONNECT_over_IPv6_parses_the_tagged_and_the_bare_address()
    {
        var tagged = CommandCodec.ParseConnect(PayloadOf(Bytes.Frame('C', "[IPv6:2001:db8::1]", '6', (ushort)587, "IPv6:2001:db8::1")));
        Assert.Equal(ConnectFamily.Inet6, tagged.Family);
        Assert.Equal(System.Net.IPAddress.Parse("2001:db8::1"), tagged.IPAddress);
        var bare = CommandCodec.ParseConnect(PayloadOf(Bytes.Frame('C', "h", '6', (ushort)1, "2001:db8::2")));
        Assert.Equal(System.Net.IPAddress.Parse("2001:db8::2"), bare.IPAddress);
    }

    [Fact]
    public void CONNECT_from_a_Unix_socket_has_a_path_and_no_IP_address()
    {
        var c = CommandCodec.ParseConnect(PayloadOf(Bytes.Frame('C', "localhost", 'L', (ushort)0, "/var/run/submit.sock")));
        Assert.Equal(new ConnectCommand("localhost", ConnectFamily.Unix, 0, "/var/run/submit.sock"), c);
        Assert.Null(c.IPAddress);
    }

    [Fact]
    public void CONNECT_of_unknown_family_has_nothing_after_the_family_byte()
    {
        Assert.Equal(new ConnectCommand("localhost", ConnectFamily.Unknown, 0, null),
            CommandCodec.ParseConnect(PayloadOf(Bytes.Frame('C', "localhost", 'U'))));
        // Some MTAs add a NUL after it; tolerated.
        Assert.Equal(ConnectFamily.Unknown, CommandCodec.ParseConnect(PayloadOf(Bytes.Frame('C', "localhost", 'U', (byte)0))).Family);
    }

    public static TheoryData<string, byte[]> MalformedConnects => new()
    {
        { "empty", [] },
        { "host without NUL", Encoding.ASCII.GetBytes("localhost") },
        { "no family", Bytes.Frame('C', "localhost")[5..] },
        { "unknown family X", Bytes.Frame('C', "localhost", 'X', (ushort)25, "192.0.2.1")[5..] },
        { "family 4 without port", Bytes.Frame('C', "localhost", '4')[5..] },
        { "port cut short", Bytes.Frame('C', "localhost", '4', (byte)0x12)[5..] },
        { "address without NUL", Bytes.Frame('C', "localhost", '4', (ushort)25, Encoding.ASCII.GetBytes("192.0.2.1"))[5..] },
        { "family 6 without address", Bytes.Frame('C', "localhost", '6', (ushort)25)[5..] },
    };

    [Theory]
    [MemberData(nameof(MalformedConnects))]
    public void Malformed_CONNECT_is_a_typed_violation(string what, byte[] payload)
    {
        var e = Assert.Throws<MilterProtocolException>(() => CommandCodec.ParseConnect(payload));
        Assert.Equal(ProtocolViolation.MalformedPayload, e.Violation);
        Assert.StartsWith("CONNECT", e.Detail, StringComparison.Ordinal);
        Assert.NotEmpty(what);
    }

    [Theory]
    [InlineData(ConnectFamily.Inet, (ushort)25, "192.0.2.1")]
    [InlineData(ConnectFamily.Inet6, (ushort)65535, "IPv6:::1")]
    [InlineData(ConnectFamily.Unix, (ushort)0, "/run/x.sock")]
    [InlineData(ConnectFamily.Unknown, (ushort)0, null)]
    public void CONNECT_written_by_the_codec_has_the_documented_layout(ConnectFamily family, ushort port, string? address)
    {
        var w = new ArrayBufferWriter<byte>();
        var command = new ConnectCommand("host.example", family, port, address);
        CommandCodec.WriteConnect(w, command);
        var expected = family == ConnectFamily.Unknown
            ? Bytes.Frame('C', "host.example", 'U')
            : Bytes.Frame('C', "host.example", (char)family, port, address!);
        Assert.Equal(Bytes.ToHex(expected), Bytes.ToHex(w.WrittenSpan));
        Assert.Equal(command, CommandCodec.ParseConnect(expected[5..]));
    }

    [Fact]
    public void HELO_parses_its_name_and_refuses_a_missing_NUL()
    {
        Assert.Equal("client.example", CommandCodec.ParseHelo(PayloadOf(Bytes.Helo("client.example"))).Name);
        Assert.Equal("", CommandCodec.ParseHelo([0]).Name);
        Assert.Equal(ProtocolViolation.MalformedPayload,
            Assert.Throws<MilterProtocolException>(() => CommandCodec.ParseHelo("abc"u8)).Violation);
    }

    [Fact]
    public void MAIL_parses_sender_and_each_ESMTP_argument()
    {
        var m = CommandCodec.ParseMail(PayloadOf(Bytes.Mail("<a@b.example>", "BODY=8BITMIME", "SIZE=123")));
        Assert.Equal("<a@b.example>", m.Sender);
        Assert.Equal("a@b.example", m.Address);
        Assert.Equal(["BODY=8BITMIME", "SIZE=123"], m.Arguments);
    }

    [Fact]
    public void MAIL_from_the_null_sender_has_an_empty_address()
    {
        var m = CommandCodec.ParseMail(PayloadOf(Bytes.Mail("<>")));
        Assert.Equal("<>", m.Sender);
        Assert.Equal("", m.Address);
        Assert.Empty(m.Arguments);
    }

    [Fact]
    public void RCPT_parses_recipient_and_arguments_and_refuses_an_unterminated_argument()
    {
        var r = CommandCodec.ParseRcpt(PayloadOf(Bytes.Rcpt("<bob@example.com>", "NOTIFY=NEVER")));
        Assert.Equal("bob@example.com", r.Address);
        Assert.Equal(["NOTIFY=NEVER"], r.Arguments);
        var cut = Bytes.Concat(PayloadOf(Bytes.Rcpt("<bob@example.com>")), "ORCPT=x"u8.ToArray());
        Assert.Equal(ProtocolViolation.MalformedPayload, Assert.Throws<MilterProtocolException>(() => CommandCodec.ParseRcpt(cut)).Violation);
    }

    [Fact]
    public void HEADER_keeps_folded_lines_and_refuses_a_missing_value()
    {
        var h = CommandCodec.ParseHeader(PayloadOf(Bytes.Header("Received", "from a\n\tby b")));
        Assert.Equal(new HeaderCommand("Received", "from a\n\tby b"), h);
        Assert.Equal(new HeaderCommand("X-Empty", ""), CommandCodec.ParseHeader(PayloadOf(Bytes.Header("X-Empty", ""))));
        Assert.Equal(ProtocolViolation.MalformedPayload,
            Assert.Throws<MilterProtocolException>(() => CommandCodec.ParseHeader(PayloadOf(Bytes.Frame('L', "Subject")))).Violation);
    }

    [Fact]
    public void UNKNOWN_takes_the_line_with_or_without_its_NUL()
    {
        Assert.Equal("XFOO bar", CommandCodec.ParseUnknown(PayloadOf(Bytes.Frame('U', "XFOO bar"))).Line);
        Assert.Equal("XFOO bar", CommandCodec.ParseUnknown("XFOO bar"u8).Line);
    }

    [Fact]
    public void MACRO_parses_stage_and_pairs_and_tolerates_a_last_name_without_value()
    {
        var pairs = new List<KeyValuePair<string, string>>();
        var stage = CommandCodec.ParseMacros(PayloadOf(Bytes.Macro('M', ("i", "Q1"), ("{auth_authen}", ""))), 100, pairs);
        Assert.Equal('M', stage);
        Assert.Equal([new("i", "Q1"), new("{auth_authen}", "")], pairs);

        pairs.Clear();
        CommandCodec.ParseMacros(Bytes.Concat("Cj\0mx\0{daemon_name}\0"u8.ToArray()), 100, pairs);
        Assert.Equal([new("j", "mx"), new("{daemon_name}", "")], pairs);
    }

    [Fact]
    public void MACRO_with_only_a_stage_letter_has_no_pairs_and_without_it_is_malformed()
    {
        var pairs = new List<KeyValuePair<string, string>>();
        Assert.Equal('H', CommandCodec.ParseMacros("H"u8, 100, pairs));
        Assert.Empty(pairs);
        Assert.Equal(ProtocolViolation.MalformedPayload,
            Assert.Throws<MilterProtocolException>(() => CommandCodec.ParseMacros([], 100, pairs)).Violation);
    }

    [Fact]
    public void MACRO_with_more_pairs_than_the_limit_is_refused()
    {
        var pairs = new List<KeyValuePair<string, string>>();
        var payload = PayloadOf(Bytes.Macro('C', Enumerable.Range(0, 11).Select(i => ($"m{i}", "v")).ToArray()));
        Assert.Equal(ProtocolViolation.TooManyMacros,
            Assert.Throws<MilterProtocolException>(() => CommandCodec.ParseMacros(payload, 10, pairs)).Violation);
        pairs.Clear();
        CommandCodec.ParseMacros(PayloadOf(Bytes.Macro('C', Enumerable.Range(0, 10).Select(i => ($"m{i}", "v")).ToArray())), 10, pairs);
        Assert.Equal(10, pairs.Count);
    }

    [Fact]
    public void Well_known_macro_names_are_the_same_string_instance_every_time()
    {
        var a = new List<KeyValuePair<string, string>>();
        var b = new List<KeyValuePair<string, string>>();
        CommandCodec.ParseMacros(PayloadOf(Bytes.Macro('C', ("{client_addr}", "1"))), 10, a);
        CommandCodec.ParseMacros(PayloadOf(Bytes.Macro('C', ("{client_addr}", "2"))), 10, b);
        Assert.Same(a[0].Key, b[0].Key);
    }

    [Fact]
    public void MACRO_written_by_the_codec_has_the_documented_layout()
    {
        var w = new ArrayBufferWriter<byte>();
        CommandCodec.WriteMacros(w, 'R', [new("{rcpt_addr}", "bob"), new("{rcpt_host}", "")]);
        Assert.Equal(Bytes.ToHex(Bytes.Macro('R', ("{rcpt_addr}", "bob"), ("{rcpt_host}", ""))), Bytes.ToHex(w.WrittenSpan));
    }
}
