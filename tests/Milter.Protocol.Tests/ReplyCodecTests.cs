using System.Buffers;
using Milter.Protocol.Replies;
using Milter.Protocol.Tests.Support;
using Milter.Protocol.Wire;

namespace Milter.Protocol.Tests;

/// <summary>Each filter reply as bytes on the wire.</summary>
public sealed class ReplyCodecTests
{
    private static string Verdict(Verdict v, bool skipAllowed = true)
    {
        var w = new ArrayBufferWriter<byte>();
        ReplyCodec.WriteVerdict(w, v, skipAllowed);
        return Bytes.ToHex(w.WrittenSpan);
    }

    private static string Modification(Modification m)
    {
        var w = new ArrayBufferWriter<byte>();
        ReplyCodec.WriteModification(w, m);
        return Bytes.ToHex(w.WrittenSpan);
    }

    [Fact]
    public void Bare_verdicts_are_one_byte_frames()
    {
        Assert.Equal("0000000163", Verdict(Replies.Verdict.Continue));
        Assert.Equal("0000000161", Verdict(Replies.Verdict.Accept));
        Assert.Equal("0000000164", Verdict(Replies.Verdict.Discard));
        Assert.Equal("0000000172", Verdict(Replies.Verdict.Reject()));
        Assert.Equal("0000000174", Verdict(Replies.Verdict.Tempfail()));
        Assert.Equal("0000000163", Verdict(default));
    }

    [Fact]
    public void SKIP_is_written_only_when_the_MTA_understands_it_and_is_Continue_otherwise()
    {
        Assert.Equal("0000000173", Verdict(Replies.Verdict.SkipBody, skipAllowed: true));
        Assert.Equal("0000000163", Verdict(Replies.Verdict.SkipBody, skipAllowed: false));
    }

    [Fact]
    public void A_verdict_with_an_SMTP_reply_is_a_REPLYCODE_as_captured()
    {
        // The exact frames of greylisted.txt and banned-connect.txt.
        Assert.Equal("0000002e7934353120342e372e3120477265796c69737465642c20706c656173652074727920616761696e206c6174657200",
            Verdict(Replies.Verdict.Tempfail(ReferenceFilter.Greylisted)));
        Assert.Equal("000000197935353020352e372e31204163636573732064656e69656400",
            Verdict(Replies.Verdict.Reject(ReferenceFilter.AccessDenied)));
    }

    [Fact]
    public void A_multi_line_reply_joins_lines_with_CRLF_dashes_all_but_the_last_and_doubles_percent()
    {
        var reply = new SmtpReply(550, "5.7.1", "100% spam", "see https://example.com/%41", "go away");
        Assert.Equal(Bytes.ToHex(Bytes.ReplyCode("550-5.7.1 100%% spam\r\n550-5.7.1 see https://example.com/%%41\r\n550 5.7.1 go away")),
            Verdict(Replies.Verdict.Reject(reply)));
    }

    [Fact]
    public void A_reply_whose_class_disagrees_with_the_verdict_falls_back_to_the_bare_verdict()
    {
        // A 4xx text cannot make a reject: the MTA would tempfail instead. The verdict wins.
        Assert.Equal("0000000172", Verdict(Replies.Verdict.Reject(ReferenceFilter.Greylisted)));
        Assert.Equal("0000000174", Verdict(Replies.Verdict.Tempfail(ReferenceFilter.AccessDenied)));
    }

    public static TheoryData<Modification, string> Modifications => new()
    {
        { new AddHeaderModification("X-Standin", "checked"), Bytes.ToHex(Bytes.Frame('h', "X-Standin", "checked")) },
        { new InsertHeaderModification(0, "X-First", "1"), Bytes.ToHex(Bytes.Frame('i', 0u, "X-First", "1")) },
        { new ChangeHeaderModification(2, "Subject", "[SPAM] hi"), Bytes.ToHex(Bytes.Frame('m', 2u, "Subject", "[SPAM] hi")) },
        { new ChangeHeaderModification(1, "X-Old", ""), Bytes.ToHex(Bytes.Frame('m', 1u, "X-Old", "")) },
        { new AddRecipientModification("<archive@example.com>"), Bytes.ToHex(Bytes.Frame('+', "<archive@example.com>")) },
        { new AddRecipientModification("<archive@example.com>", "NOTIFY=NEVER"), Bytes.ToHex(Bytes.Frame('2', "<archive@example.com>", "NOTIFY=NEVER")) },
        { new DeleteRecipientModification("<bob@example.com>"), Bytes.ToHex(Bytes.Frame('-', "<bob@example.com>")) },
        { new ChangeFromModification("<bounce@example.com>"), Bytes.ToHex(Bytes.Frame('e', "<bounce@example.com>")) },
        { new ChangeFromModification("<bounce@example.com>", "SIZE=10"), Bytes.ToHex(Bytes.Frame('e', "<bounce@example.com>", "SIZE=10")) },
        { new ReplaceBodyModification("new body\r\n"u8.ToArray()), Bytes.ToHex(Bytes.Frame('b', "new body\r\n"u8.ToArray())) },
        { new QuarantineModification("looks like spam"), Bytes.ToHex(Bytes.Frame('q', "looks like spam")) },
    };

    [Theory]
    [MemberData(nameof(Modifications))]
    public void Each_modification_has_the_documented_layout_and_parses_back(Modification m, string expectedHex)
    {
        Assert.Equal(expectedHex, Modification(m));
        var frame = Bytes.Hex(expectedHex);
        var back = ReplyCodec.ParseModification((ReplyCode)frame[4], frame[5..]);
        if (m is ReplaceBodyModification body)
            Assert.Equal(body.Chunk.ToArray(), Assert.IsType<ReplaceBodyModification>(back).Chunk.ToArray());
        else
            Assert.Equal(m, back);
    }

    [Fact]
    public void A_verdict_code_is_not_a_modification()
    {
        Assert.Null(ReplyCodec.ParseModification(ReplyCode.Continue, []));
        Assert.Null(ReplyCodec.ParseModification(ReplyCode.ReplyCode, "550 x\0"u8));
    }

    [Fact]
    public void A_cut_short_modification_is_malformed()
    {
        Assert.Equal(ProtocolViolation.MalformedPayload,
            Assert.Throws<MilterProtocolException>(() => ReplyCodec.ParseModification(ReplyCode.InsertHeader, [0, 0, 1])).Violation);
        Assert.Equal(ProtocolViolation.MalformedPayload,
            Assert.Throws<MilterProtocolException>(() => ReplyCodec.ParseModification(ReplyCode.AddHeader, "X-A\0v"u8)).Violation);
    }

    [Fact]
    public void REPLYCODE_text_parses_back_multi_line_with_percent_undoubled()
    {
        var r = ReplyCodec.ParseReplyText("451-4.7.1 first 50%%\r\n451 4.7.1 second");
        Assert.Equal(451, r.Code);
        Assert.Equal("4.7.1", r.Enhanced);
        Assert.Equal(["first 50%", "second"], r.Lines);
        Assert.Equal(VerdictKind.Tempfail, r.Kind);

        var plain = ReplyCodec.ParseReplyText("550 no enhanced code here");
        Assert.Null(plain.Enhanced);
        Assert.Equal(["no enhanced code here"], plain.Lines);
    }

    [Theory]
    [InlineData("hello")]
    [InlineData("250 2.0.0 ok")]
    [InlineData("+50 5.7.1 no")]
    public void REPLYCODE_text_that_is_not_a_4xx_or_5xx_reply_is_malformed(string text)
    {
        // A broken filter is a protocol problem for the MTA side, not an argument error.
        Assert.Equal(ProtocolViolation.MalformedPayload,
            Assert.Throws<MilterProtocolException>(() => ReplyCodec.ParseReplyText(text)).Violation);
    }

    [Theory]
    [InlineData("550 5..11 no", "5..11 no")]
    [InlineData("550 5.1234.1 no", "5.1234.1 no")]
    [InlineData("550 567.0.0", "567.0.0")]
    [InlineData("550 4.7.1 wrong class", "4.7.1 wrong class")]
    public void REPLYCODE_text_whose_first_word_is_no_enhanced_code_for_the_reply_is_text(string text, string line)
    {
        // What a filter writes for SmtpReply(550, null, line): the MTA reads no enhanced code into it
        // (found by the fuzzer: a reply built from "567.0.0" failed to parse back).
        var reply = ReplyCodec.ParseReplyText(text);
        Assert.Equal(550, reply.Code);
        Assert.Null(reply.Enhanced);
        Assert.Equal([line], reply.Lines);
        Assert.Equal(text, new SmtpReply(550, null, line).ToWireText());
    }
}
