using System.Buffers;
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
/// The message is given in pieces as it streams by (<see cref="Append"/>, then <see cref="Finish"/>):
/// only the Message-ID's own lines are kept, whatever the message's size.
/// </summary>
internal sealed class MessageIdentity : IDisposable
{
    private static ReadOnlySpan<byte> MessageIdName => "message-id:"u8;

    private readonly TrimmedHash _whole = new();
    private readonly TrimmedHash _body = new();
    private readonly ArrayBufferWriter<byte> _line = new();
    private bool _inBody;
    private bool _firstLine = true;
    // The current header line: its length so far, whether it is nothing but CRs (an empty line before
    // its CR LF), and whether its bytes are kept in _line (null: not known yet, so they are, up to the
    // length of "message-id:").
    private long _lineLength;
    private bool _onlyCr = true;
    private bool? _keepLine;
    // Within the Message-ID's lines (its folded continuations follow it).
    private bool _inId;
    private StringBuilder? _id;

    /// <summary>Whether the message's first line is a From_ line (known once that line or the message is complete).</summary>
    public bool StartsWithFromLine { get; private set; }

    /// <summary>The identity of a whole message at once.</summary>
    public static string Of(ReadOnlySpan<byte> message)
    {
        using var identity = new MessageIdentity();
        identity.Append(message);
        return identity.Finish();
    }

    /// <summary>The next piece of the message.</summary>
    public void Append(ReadOnlySpan<byte> piece)
    {
        _whole.Append(piece);
        while (!piece.IsEmpty && !_inBody)
        {
            var newline = piece.IndexOf((byte)'\n');
            var part = newline < 0 ? piece : piece[..newline];
            Collect(part);
            piece = newline < 0 ? [] : piece[(newline + 1)..];
            if (newline >= 0)
                EndLine();
        }
        if (_inBody)
            _body.Append(piece);
    }

    /// <summary>The identity, once the whole message has been appended.</summary>
    public string Finish()
    {
        if (!_inBody && _lineLength > 0)
            EndLine();
        var id = _id?.ToString().Trim();
        return !string.IsNullOrEmpty(id)
            ? "message-id:" + id + " body-sha256:" + _body.Finish()
            : "sha256:" + _whole.Finish();
    }

    public void Dispose()
    {
        _whole.Dispose();
        _body.Dispose();
    }

    /// <summary>Part of a header line (its bytes before any newline), kept only while it may matter.</summary>
    private void Collect(ReadOnlySpan<byte> part)
    {
        if (part.IsEmpty)
            return;
        _onlyCr &= part.IndexOfAnyExcept((byte)'\r') < 0;
        if (_keepLine is null)
        {
            var take = (int)Math.Min(part.Length, MessageIdName.Length - _line.WrittenCount);
            _line.Write(part[..take]);
            _lineLength += take;
            part = part[take..];
            Decide();
        }
        if (_keepLine == true)
            _line.Write(part);
        _lineLength += part.Length;
    }

    /// <summary>Whether the line's bytes are needed, once enough of it is known: a Message-ID line or a continuation of one.</summary>
    private void Decide()
    {
        var head = _line.WrittenSpan;
        if (_inId && head[0] is (byte)' ' or (byte)'\t')
            _keepLine = true;
        else if (head.Length >= MessageIdName.Length)
            _keepLine = _id is null && Ascii.EqualsIgnoreCase(head, MessageIdName);
    }

    private void EndLine()
    {
        var line = _line.WrittenSpan.TrimEnd((byte)'\r');
        var fromLine = false;
        if (_firstLine)
        {
            _firstLine = false;
            fromLine = StartsWithFromLine = line.StartsWith("From "u8);
        }
        if (fromLine)
        {
            // The From_ line is not a header.
        }
        else if (_onlyCr)
            _inBody = true;
        else
            HeaderLine(line);
        _line.ResetWrittenCount();
        _lineLength = 0;
        _onlyCr = true;
        _keepLine = null;
    }

    private void HeaderLine(ReadOnlySpan<byte> line)
    {
        var continuation = line[0] is (byte)' ' or (byte)'\t';
        if (_inId && continuation)
        {
            _id!.Append(' ').Append(Encoding.UTF8.GetString(line.Trim(" \t"u8)));
            return;
        }
        _inId = false;
        if (_id is null && !continuation && line.Length >= MessageIdName.Length && Ascii.EqualsIgnoreCase(line[..MessageIdName.Length], MessageIdName))
        {
            _id = new StringBuilder(Encoding.UTF8.GetString(line[MessageIdName.Length..].Trim(" \t"u8)));
            _inId = true;
        }
    }

    /// <summary>The sha256 of what is appended, less the newlines (CR and LF) at its end: those are held back until more follows.</summary>
    private sealed class TrimmedHash : IDisposable
    {
        private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        private readonly ArrayBufferWriter<byte> _newlines = new();

        public void Append(ReadOnlySpan<byte> bytes)
        {
            var last = bytes.LastIndexOfAnyExcept("\r\n"u8);
            if (last < 0)
            {
                _newlines.Write(bytes);
                return;
            }
            if (_newlines.WrittenCount > 0)
            {
                _hash.AppendData(_newlines.WrittenSpan);
                _newlines.ResetWrittenCount();
            }
            _hash.AppendData(bytes[..(last + 1)]);
            _newlines.Write(bytes[(last + 1)..]);
        }

        public string Finish() => Convert.ToHexStringLower(_hash.GetHashAndReset());

        public void Dispose() => _hash.Dispose();
    }
}
