using System.Buffers;
using System.Text;
using Milter.Protocol.Negotiation;
using Milter.Protocol.Wire;

namespace Milter.Protocol.Commands;

/// <summary>
/// Parses and writes the MTA's commands. The filter side (MilterSession) parses; the MTA side
/// (MilterClient) writes. Every parser reads fields in order through <see cref="PayloadReader"/>,
/// so a short or malformed payload is a typed violation, never an index error.
/// </summary>
public static class CommandCodec
{
    // Macro names sendmail and Postfix send on every connection; returning the same string instance
    // saves an allocation per macro per message.
    private static readonly string[] KnownMacroNames =
    [
        "j", "_", "i", "v", "{daemon_name}", "{if_name}", "{if_addr}", "{client_addr}", "{client_name}",
        "{client_port}", "{client_ptr}", "{client_resolve}", "{client_connections}", "{auth_type}", "{auth_authen}",
        "{auth_ssf}", "{auth_author}", "{mail_mailer}", "{mail_host}", "{mail_addr}", "{rcpt_mailer}",
        "{rcpt_host}", "{rcpt_addr}", "{msg_id}", "{tls_version}", "{cipher}", "{cipher_bits}", "{cert_subject}",
        "{cert_issuer}", "{verify}", "{daemon_addr}", "{daemon_port}", "{mail_addr_type}", "{rcpt_addr_type}",
    ];

    private static readonly byte[][] KnownMacroNameBytes = KnownMacroNames.Select(Encoding.ASCII.GetBytes).ToArray();

    public static OptionNegotiation ParseOptionNegotiation(ReadOnlySpan<byte> payload)
    {
        var r = new PayloadReader(payload, "OPTNEG");
        var version = r.ReadUInt32("version");
        var actions = (ActionFlags)r.ReadUInt32("actions");
        var protocol = (ProtocolFlags)r.ReadUInt32("protocol");
        Dictionary<MacroStage, string>? lists = null;
        // A filter's answer may carry SETSYMLIST entries; an MTA's offer carries nothing more.
        while (!r.End)
        {
            var stage = (MacroStage)r.ReadUInt32("macro stage");
            var names = r.ReadCString("macro list");
            (lists ??= [])[stage] = names;
        }
        return new OptionNegotiation(version, actions, protocol, lists);
    }

    public static void WriteOptionNegotiation(IBufferWriter<byte> output, byte code, OptionNegotiation o)
    {
        var length = 1 + 12;
        if (o.MacroLists is not null)
            foreach (var (_, names) in o.MacroLists)
                length += 4 + Encoding.UTF8.GetByteCount(names) + 1;
        var span = output.GetSpan(4 + length);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(span, (uint)length);
        span[4] = code;
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(span[5..], o.Version);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(span[9..], (uint)o.Actions);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(span[13..], (uint)o.Protocol);
        var at = 17;
        if (o.MacroLists is not null)
        {
            foreach (var (stage, names) in o.MacroLists.OrderBy(kv => kv.Key))
            {
                System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(span[at..], (uint)stage);
                at += 4;
                at += FrameWriter.WriteCString(span[at..], names);
            }
        }
        output.Advance(4 + length);
    }

    /// <summary>Parses a MACRO payload, calling <paramref name="onPair"/> per name/value; returns the stage letter.</summary>
    public static char ParseMacros(ReadOnlySpan<byte> payload, int maxPairs, List<KeyValuePair<string, string>> into)
    {
        var r = new PayloadReader(payload, "MACRO");
        var stage = (char)r.ReadByte("stage");
        while (!r.End)
        {
            if (into.Count >= maxPairs)
                throw new MilterProtocolException(ProtocolViolation.TooManyMacros, $"more than {maxPairs} macros in one packet");
            var name = MacroName(r.ReadCStringBytes("macro name"));
            // Some MTAs end the list with a name and no value; tolerate a missing last value.
            var value = r.End ? "" : r.ReadCString("macro value");
            into.Add(new(name, value));
        }
        return stage;
    }

    public static void WriteMacros(IBufferWriter<byte> output, char stage, IEnumerable<KeyValuePair<string, string>> macros)
    {
        var list = new List<string>();
        foreach (var (k, v) in macros)
        {
            list.Add(k);
            list.Add(v);
        }
        var length = 2;
        foreach (var s in list) length += Encoding.UTF8.GetByteCount(s) + 1;
        var span = output.GetSpan(4 + length);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(span, (uint)length);
        span[4] = (byte)CommandCode.Macro;
        span[5] = (byte)stage;
        var at = 6;
        foreach (var s in list) at += FrameWriter.WriteCString(span[at..], s);
        output.Advance(4 + length);
    }

    public static ConnectCommand ParseConnect(ReadOnlySpan<byte> payload)
    {
        var r = new PayloadReader(payload, "CONNECT");
        var host = r.ReadCString("host name");
        var familyByte = r.ReadByte("family");
        var family = (ConnectFamily)familyByte;
        switch (family)
        {
            case ConnectFamily.Unknown:
                // SMFIA_UNKNOWN: nothing follows; tolerate a trailing NUL some MTAs write.
                return new ConnectCommand(host, family, 0, null);
            case ConnectFamily.Inet:
            case ConnectFamily.Inet6:
            case ConnectFamily.Unix:
                var port = r.ReadUInt16("port");
                var address = r.ReadCString("address");
                return new ConnectCommand(host, family, port, address);
            default:
                throw new MilterProtocolException(ProtocolViolation.MalformedPayload, $"CONNECT: unknown family 0x{familyByte:x2}");
        }
    }

    public static void WriteConnect(IBufferWriter<byte> output, ConnectCommand c)
    {
        if (c.Family == ConnectFamily.Unknown)
        {
            var len = 1 + Encoding.UTF8.GetByteCount(c.HostName) + 1 + 1;
            var s = output.GetSpan(4 + len);
            System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(s, (uint)len);
            s[4] = (byte)CommandCode.Connect;
            var at = 5 + FrameWriter.WriteCString(s[5..], c.HostName);
            s[at] = (byte)c.Family;
            output.Advance(4 + len);
            return;
        }
        var address = c.Address ?? "";
        var length = 1 + Encoding.UTF8.GetByteCount(c.HostName) + 1 + 1 + 2 + Encoding.UTF8.GetByteCount(address) + 1;
        var span = output.GetSpan(4 + length);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(span, (uint)length);
        span[4] = (byte)CommandCode.Connect;
        var p = 5 + FrameWriter.WriteCString(span[5..], c.HostName);
        span[p++] = (byte)c.Family;
        System.Buffers.Binary.BinaryPrimitives.WriteUInt16BigEndian(span[p..], c.Port);
        p += 2;
        FrameWriter.WriteCString(span[p..], address);
        output.Advance(4 + length);
    }

    public static HeloCommand ParseHelo(ReadOnlySpan<byte> payload)
    {
        var r = new PayloadReader(payload, "HELO");
        return new HeloCommand(r.ReadCString("helo name"));
    }

    public static MailCommand ParseMail(ReadOnlySpan<byte> payload)
    {
        var r = new PayloadReader(payload, "MAIL");
        var sender = r.ReadCString("sender");
        return new MailCommand(sender, ReadArguments(ref r));
    }

    public static RcptCommand ParseRcpt(ReadOnlySpan<byte> payload)
    {
        var r = new PayloadReader(payload, "RCPT");
        var rcpt = r.ReadCString("recipient");
        return new RcptCommand(rcpt, ReadArguments(ref r));
    }

    public static HeaderCommand ParseHeader(ReadOnlySpan<byte> payload)
    {
        var r = new PayloadReader(payload, "HEADER");
        var name = r.ReadCString("name");
        var value = r.ReadCString("value");
        return new HeaderCommand(name, value);
    }

    public static UnknownCommand ParseUnknown(ReadOnlySpan<byte> payload)
    {
        var r = new PayloadReader(payload, "UNKNOWN");
        // The line is NUL-terminated; tolerate an MTA that leaves the NUL off.
        var line = payload.IndexOf((byte)0) >= 0 ? r.ReadCString("line") : PayloadReader.Decode(r.ReadRest());
        return new UnknownCommand(line);
    }

    private static IReadOnlyList<string> ReadArguments(ref PayloadReader r)
    {
        if (r.End) return [];
        var args = new List<string>();
        while (!r.End)
            args.Add(r.ReadCString("ESMTP argument"));
        return args;
    }

    private static string MacroName(ReadOnlySpan<byte> bytes)
    {
        for (var i = 0; i < KnownMacroNameBytes.Length; i++)
        {
            if (bytes.SequenceEqual(KnownMacroNameBytes[i]))
                return KnownMacroNames[i];
        }
        return PayloadReader.Decode(bytes);
    }
}
