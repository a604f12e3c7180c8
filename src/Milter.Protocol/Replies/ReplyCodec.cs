using System.Buffers;
using Milter.Protocol.Wire;

namespace Milter.Protocol.Replies;

/// <summary>
/// Writes the filter's replies (session side) and parses them (client side).
/// </summary>
public static class ReplyCodec
{
    /// <summary>Writes a verdict: a bare code, or REPLYCODE when it carries an SMTP reply.</summary>
    public static void WriteVerdict(IBufferWriter<byte> output, Verdict verdict, bool skipAllowed)
    {
        switch (verdict.Kind)
        {
            case VerdictKind.Continue:
                FrameWriter.Write(output, (byte)ReplyCode.Continue);
                break;
            case VerdictKind.Skip:
                // SMFIR_SKIP only where the MTA offered SMFIP_SKIP; otherwise Continue means the same to it.
                FrameWriter.Write(output, (byte)(skipAllowed ? ReplyCode.Skip : ReplyCode.Continue));
                break;
            case VerdictKind.Accept:
                FrameWriter.Write(output, (byte)ReplyCode.Accept);
                break;
            case VerdictKind.Discard:
                FrameWriter.Write(output, (byte)ReplyCode.Discard);
                break;
            case VerdictKind.Reject or VerdictKind.Tempfail when verdict.Reply is { } reply && reply.Kind == verdict.Kind:
                FrameWriter.WriteStrings(output, (byte)ReplyCode.ReplyCode, reply.ToWireText());
                break;
            case VerdictKind.Reject:
                FrameWriter.Write(output, (byte)ReplyCode.Reject);
                break;
            case VerdictKind.Tempfail:
                FrameWriter.Write(output, (byte)ReplyCode.Tempfail);
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(verdict), verdict.Kind, "unknown verdict");
        }
    }

    public static void WriteModification(IBufferWriter<byte> output, Modification m)
    {
        switch (m)
        {
            case AddHeaderModification a:
                FrameWriter.WriteStrings(output, (byte)ReplyCode.AddHeader, a.Name, a.Value);
                break;
            case InsertHeaderModification i:
                FrameWriter.WriteUInt32AndStrings(output, (byte)ReplyCode.InsertHeader, i.Index, i.Name, i.Value);
                break;
            case ChangeHeaderModification c:
                FrameWriter.WriteUInt32AndStrings(output, (byte)ReplyCode.ChangeHeader, c.Index, c.Name, c.Value);
                break;
            case AddRecipientModification { Arguments: null } r:
                FrameWriter.WriteStrings(output, (byte)ReplyCode.AddRecipient, r.Recipient);
                break;
            case AddRecipientModification r:
                FrameWriter.WriteStrings(output, (byte)ReplyCode.AddRecipientWithArgs, r.Recipient, r.Arguments!);
                break;
            case DeleteRecipientModification d:
                FrameWriter.WriteStrings(output, (byte)ReplyCode.DeleteRecipient, d.Recipient);
                break;
            case ChangeFromModification { Arguments: null } f:
                FrameWriter.WriteStrings(output, (byte)ReplyCode.ChangeFrom, f.Sender);
                break;
            case ChangeFromModification f:
                FrameWriter.WriteStrings(output, (byte)ReplyCode.ChangeFrom, f.Sender, f.Arguments!);
                break;
            case ReplaceBodyModification b:
                FrameWriter.Write(output, (byte)ReplyCode.ReplaceBody, b.Chunk.Span);
                break;
            case QuarantineModification q:
                FrameWriter.WriteStrings(output, (byte)ReplyCode.Quarantine, q.Reason);
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(m), m, "unknown modification");
        }
    }

    /// <summary>
    /// Parses a modification reply (client side). Returns null when <paramref name="code"/> is not a
    /// modification.
    /// </summary>
    public static Modification? ParseModification(ReplyCode code, ReadOnlySpan<byte> payload)
    {
        var r = new PayloadReader(payload, code.ToString());
        switch (code)
        {
            case ReplyCode.AddHeader:
                return new AddHeaderModification(r.ReadCString("name"), r.ReadCString("value"));
            case ReplyCode.InsertHeader:
                return new InsertHeaderModification(r.ReadUInt32("index"), r.ReadCString("name"), r.ReadCString("value"));
            case ReplyCode.ChangeHeader:
                return new ChangeHeaderModification(r.ReadUInt32("index"), r.ReadCString("name"), r.ReadCString("value"));
            case ReplyCode.AddRecipient:
                return new AddRecipientModification(r.ReadCString("recipient"));
            case ReplyCode.AddRecipientWithArgs:
                return new AddRecipientModification(r.ReadCString("recipient"), r.End ? "" : r.ReadCString("arguments"));
            case ReplyCode.DeleteRecipient:
                return new DeleteRecipientModification(r.ReadCString("recipient"));
            case ReplyCode.ChangeFrom:
                return new ChangeFromModification(r.ReadCString("sender"), r.End ? null : r.ReadCString("arguments"));
            case ReplyCode.ReplaceBody:
                return new ReplaceBodyModification(r.ReadRest().ToArray());
            case ReplyCode.Quarantine:
                return new QuarantineModification(r.ReadCString("reason"));
            default:
                return null;
        }
    }

    /// <summary>Parses the text of a REPLYCODE payload back into an <see cref="SmtpReply"/> (multi-line aware, '%%' undoubled).</summary>
    public static SmtpReply ParseReplyText(string text)
    {
        var lines = text.Split("\r\n");
        var texts = new List<string>(lines.Length);
        int code = 0;
        string? enhanced = null;
        foreach (var raw in lines)
        {
            if (raw.Length < 3 || !int.TryParse(raw.AsSpan(0, 3), out code))
                throw new MilterProtocolException(ProtocolViolation.MalformedPayload, $"REPLYCODE: '{raw}' is not an SMTP reply line");
            var rest = raw.Length > 4 ? raw[4..] : "";
            var space = rest.IndexOf(' ');
            var first = space < 0 ? rest : rest[..space];
            // An enhanced status code only when it is one for this reply (RFC 3463: class.subject.detail,
            // the class the reply's first digit), as SmtpReply.TryParse reads it; anything else, such as
            // "567.0.0" or "5..11", is the start of the text, as sendmail reads it (isenhsc).
            if (SmtpReply.IsEnhancedCode(first, code))
            {
                enhanced = first;
                rest = space < 0 ? "" : rest[(space + 1)..];
            }
            texts.Add(rest.Replace("%%", "%", StringComparison.Ordinal));
        }
        try
        {
            return new SmtpReply(code, enhanced, texts);
        }
        catch (ArgumentException e)
        {
            // A code outside 4xx/5xx or a bad enhanced code from the filter is its protocol error.
            throw new MilterProtocolException(ProtocolViolation.MalformedPayload, $"REPLYCODE: {e.Message}");
        }
    }
}
