using MilterHost.Logging;

namespace MilterHost.Tests.Logging;

public sealed class DecisionFieldsTests
{
    [Theory]
    // Invisible tag characters and a musical format character, outside the BMP: a client's UTF-8
    // sender (SMTPUTF8) decodes to them, and the decision line must show them as escapes like every
    // other format character, not write them out invisible.
    [InlineData("spam\U000E0041@evil.example", "\"spam\\udb40\\udc41@evil.example\"")]
    [InlineData("a\U0001D173b@evil.example", "\"a\\ud834\\udd73b@evil.example\"")]
    // A printable character outside the BMP stays as it is.
    [InlineData("post\U0001F4EC@example.org", "\"post\U0001F4EC@example.org\"")]
    public void A_value_writes_format_characters_outside_the_BMP_as_escapes_and_reads_back_the_same(string value, string written)
    {
        Assert.Equal(written, DecisionFields.Value(value));
        Assert.True(DecisionFields.TryRead("to=" + written, out var fields));
        Assert.Equal(value, fields["to"]);
    }
}
