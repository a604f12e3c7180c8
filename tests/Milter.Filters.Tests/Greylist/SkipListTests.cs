using Milter.Filters.Greylist;

namespace Milter.Filters.Tests.Greylist;

public class SkipListTests
{
    [Theory]
    [InlineData("partner@example.com", "Partner@Example.com", true)]
    [InlineData("partner@example.com", "other@example.com", false)]
    [InlineData("*@partner.example", "anyone@partner.example", true)]
    [InlineData("*@partner.example", "anyone@sub.partner.example", false)]
    [InlineData("@*.partner.example", "anyone@sub.partner.example", true)]
    [InlineData("@partner.example", "x@partner.example", true)]
    [InlineData("@partner.example", "x@notpartner.example", false)]
    [InlineData("@partner.example", "x@sub.partner.example", false)]
    [InlineData("/^noreply-\\d+@/", "noreply-17@bank.example", true)]
    [InlineData("/^noreply-\\d+@/", "reply-17@bank.example", false)]
    [InlineData("<>", "", true)]
    [InlineData("<>", "a@b.example", false)]
    [InlineData("abuse@example.com", "<abuse@example.com.>", true)]
    public void Pattern_matches_like_a_ban_rule_address(string pattern, string address, bool matches)
    {
        Assert.Equal(matches, new SkipList([pattern]).Matches(address));
    }

    [Fact]
    public void Bad_regex_is_refused_with_its_text()
    {
        var error = Assert.Throws<FormatException>(() => new SkipList(["/[unclosed/"]));

        Assert.Contains("/[unclosed/", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Empty_pattern_is_refused()
    {
        Assert.Throws<FormatException>(() => new SkipList(["  "]));
    }
}
