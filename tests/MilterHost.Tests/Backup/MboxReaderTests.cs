using System.Text;
using MilterHost.Tools.Backup;

namespace MilterHost.Tests.Backup;

public sealed class MboxReaderTests
{
    /// <summary>A stream that hands out at most <c>chunk</c> bytes a read, as a pipe or a gzip stream may.</summary>
    private sealed class TrickleStream(byte[] bytes, int chunk) : MemoryStream(bytes)
    {
        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            base.ReadAsync(buffer[..Math.Min(chunk, buffer.Length)], cancellationToken);
    }

    /// <summary>The messages as the reader splits them, and the largest piece it handed out.</summary>
    private static async Task<(List<string> Messages, int LargestPiece)> SplitAsync(string mbox, int bufferSize, int chunk)
    {
        var messages = new List<string>();
        var current = new MemoryStream();
        var largest = 0;
        await foreach (var piece in new MboxReader(new TrickleStream(Encoding.UTF8.GetBytes(mbox), chunk), bufferSize).ReadAsync(CancellationToken.None))
        {
            Assert.False(piece.Bytes.IsEmpty);
            if (piece.StartsMessage && current.Length > 0)
            {
                messages.Add(Encoding.UTF8.GetString(current.ToArray()));
                current.SetLength(0);
            }
            Assert.True(piece.StartsMessage || current.Length > 0, "the first piece of the file starts a message");
            current.Write(piece.Bytes.Span);
            largest = Math.Max(largest, piece.Bytes.Length);
        }
        if (current.Length > 0)
            messages.Add(Encoding.UTF8.GetString(current.ToArray()));
        return (messages, largest);
    }

    /// <summary>The rule, line by line: a From_ line at the start or after an empty line (a lone CR before its LF counts as empty) starts a message.</summary>
    private static List<string> Expected(string mbox)
    {
        var messages = new List<string>();
        var current = new StringBuilder();
        var previousBlank = true;
        foreach (var line in Lines(mbox))
        {
            if (previousBlank && line.StartsWith("From ", StringComparison.Ordinal) && current.Length > 0)
            {
                messages.Add(current.ToString());
                current.Clear();
            }
            previousBlank = line is "\n" or "\r\n";
            current.Append(line);
        }
        if (current.Length > 0)
            messages.Add(current.ToString());
        return messages;
    }

    private static IEnumerable<string> Lines(string text)
    {
        var start = 0;
        while (start < text.Length)
        {
            var newline = text.IndexOf('\n', start);
            var end = newline < 0 ? text.Length : newline + 1;
            yield return text[start..end];
            start = end;
        }
    }

    private static readonly string LongLine = new('x', 300);

    public static TheoryData<string> Mboxes() =>
    [
        "",
        "F",
        "From a@example.com x\n",
        MboxText.Messages(1, 5),
        // "From " inside a body, not after an empty line, starts nothing; neither does mboxrd's ">From ".
        "From a@example.com x\n\nline\nFrom here on\n\n>From there\n\nFrom b@example.com y\n\nbody\n",
        // Text before the first From_ line is a message of its own; an unterminated last line belongs to its message.
        "junk\n\nFrom a@example.com x\n\nbody\n\nFrom b@example.com y",
        "\nFrom a@example.com x\n",
        "From a@example.com x\r\n\r\nbody\r\n\r\nFrom b@example.com y\r\n\r\nbody\r\n",
        // A line of two CRs is not empty for the split; lines longer than the buffer; a From_ line right after one.
        "From a@example.com x\n\r\r\nFrom not a start\n\n" + LongLine + "\n\nFrom b@example.com y\n\n" + LongLine + LongLine + "\n\n",
        "From a@example.com x\n\n\n\n\nFrom b@example.com y\n\nFro\n\nFrom c@example.com z",
    ];

    [Theory]
    [MemberData(nameof(Mboxes))]
    public async Task Splits_as_the_line_rule_does_whatever_the_buffer_and_read_sizes(string mbox)
    {
        var expected = Expected(mbox);
        foreach (var bufferSize in new[] { 10, 11, 17, 64, 128 * 1024 })
            foreach (var chunk in new[] { 1, 2, 3, 5, 7, 1000 })
            {
                var (messages, largest) = await SplitAsync(mbox, bufferSize, chunk);
                Assert.Equal(expected, messages);
                Assert.True(largest <= bufferSize, $"a piece of {largest} bytes from a buffer of {bufferSize}");
            }
    }

    [Fact]
    public async Task A_message_far_larger_than_the_buffer_comes_in_pieces_no_larger_than_it()
    {
        var body = string.Concat(Enumerable.Repeat(new string('y', 76) + "\n", 20_000));
        var mbox = MboxText.Message(1) + "From big@example.com x\nSubject: big\n\n" + body + "\n" + MboxText.Message(3);
        var (messages, largest) = await SplitAsync(mbox, 4096, 100_000);
        Assert.Equal(3, messages.Count);
        Assert.Equal(MboxText.Message(1), messages[0]);
        Assert.Equal("From big@example.com x\nSubject: big\n\n" + body + "\n", messages[1]);
        Assert.True(largest <= 4096);
    }

    public static TheoryData<string> Messages() =>
    [
        "From a@example.com x\nMessage-ID:\n  <one@example.org>\nSubject: one\n\nbody\n\n",
        "From a@example.com x\r\nmessage-id: <two@example.org> \r\n\t(folded)\r\nSubject: two\r\n\r\nbody\r\n\r\n",
        "From a@example.com x\nSubject: no id\n\nbody\n",
        "From a@example.com x\nMessage-ID: <three@example.org>\n\r\r\nbody after a line of CRs\n\n\n",
        "Message-ID: <first-line@example.org>\n\nno From_ line\n",
        "From a@example.com x\nX-Long: " + new string('h', 500) + "\nMessage-ID: <" + new string('i', 300) + "@example.org>\n\n" + new string('b', 1000) + "\n\n",
        "From a@example.com x\nMessage-ID: <only-headers@example.org>",
        "From a@example.com x\nMessage-ID:\n\nbody of an empty id\n",
        "From a@example.com x\n \n\nMessage-ID: <in-body@example.org>\n",
    ];

    [Theory]
    [MemberData(nameof(Messages))]
    public void The_identity_of_a_message_is_the_same_whatever_pieces_it_comes_in(string message)
    {
        var bytes = Encoding.UTF8.GetBytes(message);
        var whole = MessageIdentity.Of(bytes);
        for (var chunk = 1; chunk <= 40; chunk++)
        {
            using var identity = new MessageIdentity();
            for (var i = 0; i < bytes.Length; i += chunk)
                identity.Append(bytes.AsSpan(i, Math.Min(chunk, bytes.Length - i)));
            Assert.Equal(whole, identity.Finish());
        }
    }

    [Fact]
    public void The_identity_is_the_message_id_with_the_body_or_the_whole_message_without_its_closing_newlines()
    {
        Assert.Equal("message-id:<one@example.org> body-sha256:" + Sha256("body"),
            MessageIdentity.Of("From a x\nMessage-ID:\n  <one@example.org>\nSubject: one\n\nbody\n\n"u8));
        // Unfolded with one space, trimmed; CR LF lines; an id on the first line without a From_ line.
        Assert.Equal("message-id:<two@example.org> (folded) body-sha256:" + Sha256("body"),
            MessageIdentity.Of("From a x\r\nmessage-id: <two@example.org> \r\n\t(folded)\r\n\r\nbody\r\n\r\n"u8));
        Assert.Equal("message-id:<first@example.org> body-sha256:" + Sha256("b"), MessageIdentity.Of("Message-ID: <first@example.org>\n\nb\n"u8));
        // A line of CRs ends the headers; only the first Message-ID counts.
        Assert.Equal("message-id:<x> body-sha256:" + Sha256("Message-ID: <y>"), MessageIdentity.Of("From a x\nMessage-ID: <x>\n\r\r\nMessage-ID: <y>\n"u8));
        Assert.Equal("message-id:<x> body-sha256:" + Sha256(""), MessageIdentity.Of("From a x\nMessage-ID: <x>\nMessage-ID: <y>"u8));
        // No id, or an empty one: the whole message.
        Assert.Equal("sha256:" + Sha256("From a x\nSubject: s\n\nbody"), MessageIdentity.Of("From a x\nSubject: s\n\nbody\r\n\n"u8));
        Assert.Equal("sha256:" + Sha256("From a x\nMessage-ID:  \n\nb"), MessageIdentity.Of("From a x\nMessage-ID:  \n\nb\n"u8));
    }

    [Fact]
    public void Whether_a_message_starts_with_a_from_line_is_known_once_it_is_complete()
    {
        Assert.True(Starts("From a@example.com x\n\nbody\n"));
        Assert.True(Starts("From a@example.com"));
        Assert.False(Starts("Subject: x\n\nbody\n"));
        Assert.False(Starts("Fro"));
        Assert.False(Starts("\nFrom a@example.com x\n"));

        static bool Starts(string message)
        {
            using var identity = new MessageIdentity();
            identity.Append(Encoding.UTF8.GetBytes(message));
            identity.Finish();
            return identity.StartsWithFromLine;
        }
    }

    private static string Sha256(string text) => Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes(text)));
}
