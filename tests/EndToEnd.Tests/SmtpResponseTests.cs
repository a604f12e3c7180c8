using Milter.TestSupport;

namespace EndToEnd.Tests;

public sealed class SmtpResponseTests
{
    [Theory]
    [InlineData("250 2.0.0 6AT2YQje009165 Message accepted for delivery", "6AT2YQje009165")]
    [InlineData("250 2.1.5 <alice@example.com>... Recipient ok", null)]
    [InlineData("451 4.7.1 6AT2YQje009165 Message accepted for delivery", null)]
    public void Accepted_queue_id_is_read_only_from_an_acceptance(string line, string? queueId) =>
        Assert.Equal(queueId, new SmtpResponse(int.Parse(line[..3], System.Globalization.CultureInfo.InvariantCulture), [line]).AcceptedQueueId);

    [Fact]
    public void Text_is_every_line_as_sent()
    {
        var response = new SmtpResponse(550, ["550-5.7.1 first", "550 5.7.1 last"]);

        Assert.Equal("550-5.7.1 first\n550 5.7.1 last", response.Text);
        Assert.False(response.IsPositive);
    }
}
