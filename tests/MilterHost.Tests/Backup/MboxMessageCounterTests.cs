using System.Text;
using MilterHost.Tools.Backup;

namespace MilterHost.Tests.Backup;

public sealed class MboxMessageCounterTests
{
    private static long Count(string mbox, int chunk)
    {
        var counter = new MboxMessageCounter();
        var bytes = Encoding.UTF8.GetBytes(mbox);
        for (var i = 0; i < bytes.Length; i += chunk)
            counter.Append(bytes.AsSpan(i, Math.Min(chunk, bytes.Length - i)));
        return counter.Complete();
    }

    [Theory]
    [InlineData("", 0)]
    [InlineData("From a@example.com Sat Nov 28 06:25:01 2026\nSubject: x\n\nhi\n", 1)]
    [InlineData("From a@example.com Sat Nov 28 06:25:01 2026\n\nbody\n\nFrom b@example.com Sat Nov 28 06:25:02 2026\n\nbody\n", 2)]
    // "From " inside a body, not after an empty line, starts nothing; neither does mboxrd's ">From ".
    [InlineData("From a@example.com Sat Nov 28 06:25:01 2026\n\nline\nFrom here on\n\n>From there\n", 1)]
    // An unterminated last line still counts.
    [InlineData("From a@example.com x\n\nbody\n\nFrom b@example.com y", 2)]
    [InlineData("From a@example.com x\r\n\r\nbody\r\n\r\nFrom b@example.com y\r\n", 2)]
    [InlineData("Fro", 0)]
    [InlineData("\nFrom a@example.com x\n", 1)]
    public void Counts_from_lines_at_the_start_or_after_an_empty_line(string mbox, long messages)
    {
        Assert.Equal(messages, Count(mbox, int.MaxValue / 2));
    }

    [Fact]
    public void Count_is_the_same_whatever_the_buffer_boundaries()
    {
        var mbox = MboxText.Messages(1, 7) + "From tail@example.com x";
        for (var chunk = 1; chunk <= 40; chunk++)
            Assert.Equal(8, Count(mbox, chunk));
    }
}
