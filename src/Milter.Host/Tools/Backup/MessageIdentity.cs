using System.Security.Cryptography;
using System.Text;

namespace MilterHost.Tools.Backup;

/// <summary>
/// What makes two stored messages the same one for <c>restore-mail</c>: the value of the Message-ID
/// header (unfolded, surrounding white space trimmed, compared exactly) together with the sha256 of
/// the body, when the message has one; otherwise the sha256 of the whole message as stored, From_
/// line included. Hashes leave out the newlines at the end (the blank line that separates a message
/// from the next is not part of it). The body and not the headers: a mail reader adds its
/// <c>Status:</c> headers to the copy in the spool, and that copy is still the message backed up;
/// the body too, not the Message-ID alone: two different messages can carry the same id (a sender
/// that reuses ids, a forged one), and the one lost must not be skipped for the other.
/// </summary>
internal static class MessageIdentity
{
    private static ReadOnlySpan<byte> MessageIdName => "message-id:"u8;

    public static string Of(ReadOnlySpan<byte> message)
    {
        var id = MessageId(message, out var body);
        return id is not null
            ? "message-id:" + id + " body-sha256:" + Hash(body)
            : "sha256:" + Hash(message);
    }

    private static string Hash(ReadOnlySpan<byte> bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes.TrimEnd("\r\n"u8)));

    /// <summary>
    /// The Message-ID of the header section (after the From_ line, up to the first empty line), or
    /// null; <paramref name="body"/> is what follows that empty line (empty when there is none).
    /// </summary>
    private static string? MessageId(ReadOnlySpan<byte> message, out ReadOnlySpan<byte> body)
    {
        var rest = message;
        var first = true;
        StringBuilder? value = null;
        // Within the Message-ID's lines (its folded continuations follow it); after them, read on to the body.
        var inId = false;
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
            if (inId && continuation)
            {
                value!.Append(' ').Append(Encoding.UTF8.GetString(line.Trim(" \t"u8)));
                continue;
            }
            inId = false;
            if (value is null && !continuation && line.Length >= MessageIdName.Length && Ascii.EqualsIgnoreCase(line[..MessageIdName.Length], MessageIdName))
            {
                value = new StringBuilder(Encoding.UTF8.GetString(line[MessageIdName.Length..].Trim(" \t"u8)));
                inId = true;
            }
        }
        body = rest;
        var id = value?.ToString().Trim();
        return string.IsNullOrEmpty(id) ? null : id;
    }
}
