namespace Milter.TestSupport.Internal;

/// <summary>
/// Pairs the lines of a swaks transcript into exchanges. swaks marks what it sent with
/// <c> -&gt; </c> (<c> ~&gt; </c> under TLS) and what it received with <c>&lt;-  </c>, or
/// <c>&lt;** </c> for a negative reply (<c>&lt;~  </c>, <c>&lt;~* </c> under TLS).
/// </summary>
internal static class SwaksTranscript
{
    private const int PrefixLength = 4;
    private static readonly string[] SentPrefixes = [" -> ", " ~> "];
    private static readonly string[] ReceivedPrefixes = ["<-  ", "<** ", "<~  ", "<~* "];

    public static List<SmtpExchange> Parse(string transcript)
    {
        var exchanges = new List<SmtpExchange>();
        // Commands wait here for their replies, so a pipelined batch pairs up in order.
        var pending = new Queue<string>();
        var replyLines = new List<string>();
        var inMessageData = false;
        foreach (var rawLine in transcript.Split('\n'))
        {
            var line = rawLine.TrimEnd('\r');
            if (SentPrefixes.Any(line.StartsWith))
            {
                var sent = line[PrefixLength..];
                if (!inMessageData)
                {
                    pending.Enqueue(sent);
                }
                else if (sent == ".")
                {
                    pending.Enqueue(sent);
                    inMessageData = false;
                }
            }
            else if (ReceivedPrefixes.Any(line.StartsWith))
            {
                replyLines.Add(line[PrefixLength..]);
                if (SmtpResponse.IsLastLine(replyLines[^1]))
                {
                    var response = SmtpResponse.FromLines(replyLines);
                    replyLines = [];
                    string? command = exchanges.Count == 0 ? null : pending.Count > 0 ? pending.Dequeue() : null;
                    exchanges.Add(new SmtpExchange(command, response));
                    inMessageData = response.Code == 354;
                }
            }
        }

        return exchanges;
    }
}
