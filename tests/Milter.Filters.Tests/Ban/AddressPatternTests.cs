using Milter.Filters.Ban;

namespace Milter.Filters.Tests.Ban;

public sealed class AddressPatternTests
{
    [Theory]
    // exact
    [InlineData("former-employee@example.com", "former-employee@example.com", true)]
    [InlineData("former-employee@example.com", "<Former-Employee@EXAMPLE.com>", true)]
    [InlineData("former-employee@example.com", "former-employee@example.com.", true)]
    [InlineData("former-employee@example.com", "employee@example.com", false)]
    [InlineData("<>", "", true)]
    [InlineData("<>", "<>", true)]
    [InlineData("<>", "a@b.example", false)]
    // glob
    [InlineData("*@spammer.example", "anyone@spammer.example", true)]
    [InlineData("*@spammer.example", "anyone@SPAMMER.example", true)]
    [InlineData("*@spammer.example", "anyone@sub.spammer.example", false)]
    [InlineData("*@*.spammer.example", "anyone@sub.spammer.example", true)]
    [InlineData("@*.spammer.example", "anyone@sub.spammer.example", true)]
    [InlineData("bulk-*@*", "bulk-42@news.example", true)]
    // @domain: exactly that domain
    [InlineData("@spammer.example", "x@spammer.example", true)]
    [InlineData("@spammer.example", "x@Spammer.Example.", true)]
    [InlineData("@spammer.example", "x@sub.spammer.example", false)]
    [InlineData("@spammer.example", "x@notspammer.example", false)]
    [InlineData("@spammer.example", "spammer.example", false)]
    // regex, searched in the address, with flags
    [InlineData("/^bulk-[0-9]+@/", "bulk-42@news.example", true)]
    [InlineData("/^bulk-[0-9]+@/", "BULK-42@news.example", false)]
    [InlineData("/^bulk-[0-9]+@/i", "BULK-42@news.example", true)]
    [InlineData("/@(news|promo)\\.example$/", "x@promo.example", true)]
    [InlineData("/a.b/s", "a\nb@x.example", true)]
    [InlineData("/a b @/x", "ab@x.example", true)]
    public void Matches_as_written(string pattern, string address, bool expected) =>
        Assert.Equal(expected, AddressPattern.Parse(pattern).Matches(address));

    [Theory]
    [InlineData("x@y.example", AddressPatternKind.Exact)]
    [InlineData("*@y.example", AddressPatternKind.Glob)]
    [InlineData("@y.example", AddressPatternKind.Domain)]
    [InlineData("/y/i", AddressPatternKind.Regex)]
    public void Knows_how_it_was_written(string pattern, AddressPatternKind kind) =>
        Assert.Equal(kind, AddressPattern.Parse(pattern).Kind);

    [Theory]
    [InlineData("", "empty")]
    [InlineData("/abc", "no closing '/'")]
    [InlineData("/abc/q", "unknown regex flag 'q'")]
    [InlineData("/(unclosed/", "not a valid regular expression")]
    [InlineData("@", "not @domain")]
    public void A_bad_pattern_is_a_clear_error(string pattern, string message)
    {
        var ex = Assert.Throws<FormatException>(() => AddressPattern.Parse(pattern));
        Assert.Contains(message, ex.Message, StringComparison.Ordinal);
    }
}
