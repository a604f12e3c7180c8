using System.Security.Cryptography;
using System.Text;

namespace MilterHost.Tools.Backup;

/// <summary>
/// What makes two stored messages the same one for <c>restore-mail</c>: the value of the Message-ID
/// header (unfolded, surrounding white space trimmed, compared exactly) when the message has one;
/// otherwise the sha256 of the whole message as stored, From_ line included, without the newlines at
/// its end (the blank line that separates it from the next message is not part of it).
/// </summary>
internal static class MessageIdentity
{
    private static ReadOnlySpan<byte> MessageIdName => "message-id:"u8;

    public static string Of(ReadOnlySpan<byte> message)
    {
        var id = MessageId(message);
        return id is not null ? "message-id:" + id : "sha256:" + Convert.ToHexStringLower(SHA256.HashData(message.TrimEnd("\r\n"u8)));
    }

    /// <summary>The Message-ID of the header section (after the From_ line, up to the first empty line), or null.</summary>
    private static string? MessageId(ReadOnlySpan<byte> message)
    {
        var rest = message;
        var first = true;
        StringBuilder? value = null;
        while (!rest.IsEmpty)
        {
            var newline = rest.IndexOf((byte)'\n');
            var line = newline < 0 ? rest : rest[..newline];
            rest = newline < 0 ? [] : rest[(newline + 1)..];
            line = line.TrimEnd((byte)'\r');
            if (first)
            {
                first = false;
                if (line.StartsWith("From "u8))
                    continue;
            }
            if (line.IsEmpty)
                break;
            var continuation = line[0] is (byte)' ' or (byte)'\t';
            if (value is not null)
            {
                if (continuation)
                {
                    value.Append(' ').Append(Encoding.UTF8.GetString(line.Trim(" \t"u8)));
                    continue;
                }
                break;
            }
            if (!continuation && line.Length >= MessageIdName.Length && Ascii.EqualsIgnoreCase(line[..MessageIdName.Length], MessageIdName))
                value = new StringBuilder(Encoding.UTF8.GetString(line[MessageIdName.Length..].Trim(" \t"u8)));
        }
        var id = value?.ToString().Trim();
        return string.IsNullOrEmpty(id) ? null : id;
    }
}
