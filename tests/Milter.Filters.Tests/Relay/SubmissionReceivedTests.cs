using Milter.Filters.Relay;

namespace Milter.Filters.Tests.Relay;

public sealed class SubmissionReceivedTests
{
    [Theory]
    // As sendmail 8.17's submission program writes it (the milter gets the value without the space after the colon).
    [InlineData("(from alice@localhost)\n\tby mx.example.com (8.17.1.9/8.17.1.9/Submit) id 5B5EWxYZ012345;\n\tSat, 5 Dec 2026 14:40:00 GMT", "alice")]
    [InlineData("(from root@localhost) by mx.example.com (8.17.1.9/8.17.1.9/Submit) id 5B5EWxYZ012345", "root")]
    [InlineData(" \t(from www-data@localhost)", "www-data")]
    [InlineData("(from svc.backup_2@localhost)\r\n\tby host", "svc.backup_2")]
    [InlineData("(from host01$@localhost) by x", "host01$")]
    public void The_user_of_the_submission_program_line_is_read(string value, string user) =>
        Assert.Equal(user, SubmissionReceived.User(value));

    [Theory]
    // Another MTA's line, or anything a sender could make of it.
    [InlineData("from mx.outside.example (mx.outside.example [203.0.113.9]) by mx.example.com")]
    [InlineData("by mx.example.com (from root@localhost)")]
    [InlineData("x (from root@localhost)")]
    [InlineData("(from root@localhost.evil.example) by x")]
    [InlineData("(from root@localhostx)")]
    [InlineData("(from root@localhost)by x")]
    [InlineData("(from root@LOCALHOST)")]
    [InlineData("(From root@localhost)")]
    [InlineData("(from  root@localhost)")]
    [InlineData("(from @localhost)")]
    [InlineData("(from ro ot@localhost)")]
    [InlineData("(from ro\not@localhost)")]
    [InlineData("(from a@b@localhost)")]
    [InlineData("(from \"root\"@localhost)")]
    [InlineData("(from -root@localhost)")]
    [InlineData("(from ro$ot@localhost)")]
    [InlineData("(from r\u00f6ot@localhost)")]
    [InlineData("(from root\u0000@localhost)")]
    [InlineData("(from root@localhost")]
    [InlineData("(from root")]
    [InlineData("(from ")]
    [InlineData("")]
    [InlineData(null)]
    public void Anything_else_names_nobody(string? value) =>
        Assert.Null(SubmissionReceived.User(value));

    [Fact]
    public void A_name_longer_than_any_account_names_nobody()
    {
        Assert.Null(SubmissionReceived.User($"(from {new string('a', 256)}@localhost)"));
        Assert.Equal(new string('a', 255), SubmissionReceived.User($"(from {new string('a', 255)}@localhost)"));
    }
}
