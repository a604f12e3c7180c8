using System.IO.Compression;
using System.Text;
using System.Text.RegularExpressions;

namespace MilterHost.Tests.Backup;

/// <summary>Numbered test messages, and the checks that a copy holds only whole ones.</summary>
internal static partial class MboxText
{
    public static string Message(int number) =>
        $"From writer@example.com Sat Nov 28 06:25:01 2026\nSubject: message {number}\n\nbody of message {number}\nEND {number}\n\n";

    public static string Messages(int first, int last) =>
        string.Concat(Enumerable.Range(first, last - first + 1).Select(Message));

    public static string Gunzip(string path)
    {
        using var file = File.OpenRead(path);
        using var gzip = new GZipStream(file, CompressionMode.Decompress);
        using var reader = new StreamReader(gzip, Encoding.UTF8);
        return reader.ReadToEnd();
    }

    /// <summary>The number of messages, after checking the copy is exactly messages 1..n, each whole.</summary>
    public static int AssertWholeMessages(string mbox)
    {
        var count = FromLine().Count(mbox);
        Assert.Equal(Messages(1, count), mbox);
        return count;
    }

    [GeneratedRegex("^From ", RegexOptions.Multiline)]
    private static partial Regex FromLine();
}
