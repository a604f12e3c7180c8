using MilterHost.Logging;
using MilterHost.Tools;

namespace MilterHost.Tests.Logging;

public sealed class PrintableTextTests
{
    [Theory]
    [InlineData("\"\u001b]0;owned\u0007\u001b[41mx\"@evil.example", "\"\\x1b]0;owned\\x07\\x1b[41mx\"@evil.example")]
    [InlineData("fake\rline", "fake\\x0dline")]
    [InlineData("one\ntwo", "one\\x0atwo")]
    [InlineData("\b\b\bx\t\0\u007f", "\\x08\\x08\\x08x\\x09\\x00\\x7f")]
    [InlineData("\u009b31m", "\\x9b31m")] // the C1 control sequence introducer
    [InlineData("abc\u202eexe.pdf", "abc\\u202eexe.pdf")] // a right-to-left override
    [InlineData("a\u2028b\u00a0c\u0378d", "a\\u2028b\\xa0c\\u0378d")] // line separator, no-break space, unassigned
    // Outside the BMP: invisible tag characters, a musical format character, an unassigned code point.
    [InlineData("spam\U000E0041.example", "spam\\udb40\\udc41.example")]
    [InlineData("spam\U000E0001\U0001D173x\U0003FFFDy", "spam\\udb40\\udc01\\ud834\\udd73x\\ud8bf\\udffdy")]
    public void Controls_format_characters_and_odd_separators_are_written_as_escapes(string text, string expected) =>
        Assert.Equal(expected, PrintableText.Of(text));

    [Fact]
    public void A_lone_half_of_a_surrogate_pair_is_escaped_and_a_whole_pair_kept() =>
        Assert.Equal("lone \\ud800 half, whole \ud83d\udcec", PrintableText.Of("lone " + '\ud800' + " half, whole \ud83d\udcec"));

    [Theory]
    [InlineData("alice@example.org")]
    [InlineData("jörg@bücher.example 日本語 📬 mail")]
    public void Printable_text_of_every_script_comes_back_as_the_same_string(string text) =>
        Assert.Same(text, PrintableText.Of(text));

    [Fact]
    public void Whole_output_keeps_its_line_feeds_and_nothing_else() =>
        Assert.Equal("first\nsecond \\x1b[2K\\x0d\n", PrintableText.Of("first\nsecond \u001b[2K\r\n", keepLineFeeds: true));

    [Fact]
    public void The_commands_writer_escapes_what_passes_and_keeps_lines_and_json_as_they_are()
    {
        var inner = new StringWriter { NewLine = "\n" };
        var writer = new PrintableWriter(inner);

        writer.WriteLine("sender <\u001b[41mx@evil.example>");
        writer.Write('\r');
        writer.Write('\n');
        writer.Write("partial\u0007".ToCharArray(), 0, 8);
        writer.WriteLineAsync("{\n  \"sender\": \"\\u001b\"\n}").GetAwaiter().GetResult();

        Assert.Equal("sender <\\x1b[41mx@evil.example>\n\\x0d\npartial\\x07{\n  \"sender\": \"\\u001b\"\n}\n", inner.ToString());
    }

    [Fact]
    public void A_table_row_stays_one_line_whatever_a_cell_holds()
    {
        var table = new TextTable("SENDER", "STATE");
        table.Add("a@example.org\nFAKE  passed", "pending");
        table.Add("b@example.org", "passed");
        var output = new StringWriter { NewLine = "\n" };

        table.WriteTo(output);

        Assert.Equal(
            "SENDER                         STATE\n" +
            "a@example.org\\x0aFAKE  passed  pending\n" +
            "b@example.org                  passed\n", output.ToString());
    }
}
