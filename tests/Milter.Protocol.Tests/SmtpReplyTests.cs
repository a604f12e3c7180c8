using Milter.Protocol.Replies;

namespace Milter.Protocol.Tests;

public sealed class SmtpReplyTests
{
    [Theory]
    [InlineData(399)]
    [InlineData(250)]
    [InlineData(600)]
    [InlineData(0)]
    public void Only_4xx_and_5xx_codes_are_milter_replies(int code)
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new SmtpReply(code, null, "x"));
    }

    [Theory]
    [InlineData(550, "4.7.1")]
    [InlineData(451, "5.7.1")]
    [InlineData(550, "5.7")]
    [InlineData(550, "5.7.1.2")]
    [InlineData(550, "5..1")]
    [InlineData(550, "5.1234.1")]
    [InlineData(550, "5.a.1")]
    [InlineData(550, "55.7.1")]
    [InlineData(550, "5.7.")]
    [InlineData(550, "5.7.1234")]
    [InlineData(550, "5.7.x")]
    [InlineData(550, ".7.1")]
    [InlineData(550, "")]
    public void An_enhanced_code_must_be_x_y_z_in_the_reply_class(int code, string enhanced)
    {
        Assert.Throws<ArgumentException>(() => new SmtpReply(code, enhanced, "x"));
    }

    [Theory]
    [InlineData(451, "4.7.1")]
    [InlineData(550, "5.123.456")]
    [InlineData(554, "5.0.0")]
    public void Subject_and_detail_take_one_to_three_digits(int code, string enhanced)
    {
        Assert.Equal(enhanced, new SmtpReply(code, enhanced, "x").Enhanced);
        Assert.True(SmtpReply.IsEnhancedStatusCode(enhanced));
    }

    [Theory]
    [InlineData("a\rb")]
    [InlineData("a\nb")]
    [InlineData("a\0b")]
    public void Reply_text_may_not_contain_CR_LF_or_NUL(string line)
    {
        Assert.Throws<ArgumentException>(() => new SmtpReply(550, "5.7.1", "fine", line));
    }

    [Fact]
    public void A_reply_without_lines_has_one_empty_line()
    {
        var r = new SmtpReply(550, "5.7.1", []);
        Assert.Equal([""], r.Lines);
        Assert.Equal("550 5.7.1 ", r.ToWireText());
    }

    [Fact]
    public void Four_hundreds_are_temporary_and_five_hundreds_reject()
    {
        Assert.True(new SmtpReply(451, "4.7.1", "later").IsTemporary);
        Assert.Equal(VerdictKind.Tempfail, new SmtpReply(421, null, "bye").Kind);
        Assert.Equal(VerdictKind.Reject, new SmtpReply(554, "5.7.1", "no").Kind);
    }

    [Fact]
    public void Parse_reads_code_enhanced_code_and_text()
    {
        var r = SmtpReply.Parse("550 5.7.1 Relaying denied");
        Assert.Equal(550, r.Code);
        Assert.Equal("5.7.1", r.Enhanced);
        Assert.Equal(["Relaying denied"], r.Lines);
        Assert.Equal("550 5.7.1 Relaying denied", r.ToString());

        var noEnhanced = SmtpReply.Parse("451 try again");
        Assert.Null(noEnhanced.Enhanced);
        Assert.Equal(["try again"], noEnhanced.Lines);
        Assert.Equal([""], SmtpReply.Parse("550").Lines);
    }

    [Theory]
    [InlineData("")]
    [InlineData("55")]
    [InlineData("250 ok")]
    [InlineData("550-5.7.1 continued")]
    [InlineData("5x0 5.7.1 no")]
    [InlineData("+50 5.7.1 no")]
    [InlineData("550 5.7.1 two\r\nlines")]
    [InlineData("550x")]
    [InlineData("450 5.7.1 greylisted")]
    [InlineData("550 4.7.1 try later")]
    public void TryParse_refuses_what_is_not_one_4xx_or_5xx_line(string text)
    {
        Assert.False(SmtpReply.TryParse(text, out var reply));
        Assert.Null(reply);
        Assert.Throws<FormatException>(() => SmtpReply.Parse(text));
    }

    [Fact]
    public void Wire_text_doubles_every_percent_sign()
    {
        Assert.Equal("550 5.7.1 100%% sure, %%s is not a format", new SmtpReply(550, "5.7.1", "100% sure, %s is not a format").ToWireText());
    }

    [Fact]
    public void Wire_text_of_several_lines_dashes_all_but_the_last()
    {
        Assert.Equal("451-4.7.1 one\r\n451-4.7.1 two\r\n451 4.7.1 three", new SmtpReply(451, "4.7.1", "one", "two", "three").ToWireText());
        Assert.Equal("550-one\r\n550 two", new SmtpReply(550, null, "one", "two").ToWireText());
    }

    [Fact]
    public void Two_replies_with_the_same_code_enhanced_code_and_lines_are_equal()
    {
        var a = new SmtpReply(550, "5.7.1", ["Relaying denied", "see the postmaster"]);
        var b = new SmtpReply(550, "5.7.1", new List<string> { "Relaying denied", "see the postmaster" });

        Assert.Equal(a, b);
        Assert.Equal(a.GetHashCode(), b.GetHashCode());
        Assert.True(a == b);
        Assert.NotEqual(a, new SmtpReply(550, "5.7.1", "Relaying denied"));
        Assert.NotEqual(a, new SmtpReply(550, null, ["Relaying denied", "see the postmaster"]));
        Assert.NotEqual(a, new SmtpReply(554, "5.7.1", ["Relaying denied", "see the postmaster"]));
        Assert.False(a.Equals(null));
    }
}
