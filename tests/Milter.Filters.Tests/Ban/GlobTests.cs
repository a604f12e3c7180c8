using Milter.Filters.Ban;

namespace Milter.Filters.Tests.Ban;

public sealed class GlobTests
{
    [Theory]
    [InlineData("*.dynamic.example.net", "host-1.dynamic.example.net", true)]
    [InlineData("*.dynamic.example.net", "HOST-1.Dynamic.Example.NET", true)]
    [InlineData("*.dynamic.example.net", "dynamic.example.net", false)]
    [InlineData("*.dynamic.example.net", "a.dynamic.example.net.evil", false)]
    [InlineData("localhost", "localhost", true)]
    [InlineData("localhost", "localhost.example", false)]
    [InlineData("mx?.example", "mx1.example", true)]
    [InlineData("mx?.example", "mx12.example", false)]
    [InlineData("*", "", true)]
    [InlineData("a*b*c", "aXXbYYc", true)]
    [InlineData("a*b*c", "aXXbYY", false)]
    [InlineData("*dsl*", "adsl-1-2.example", true)]
    public void Matches_the_whole_text_case_insensitively(string pattern, string text, bool expected) =>
        Assert.Equal(expected, new Glob(pattern).IsMatch(text));

    [Fact]
    public void A_long_hostile_name_against_many_stars_answers_correctly()
    {
        var text = new string('a', 1 << 20);
        Assert.False(new Glob("*a*a*a*a*a*b").IsMatch(text));
        Assert.True(new Glob("*a*a*a*a*a*").IsMatch(text));
    }
}
