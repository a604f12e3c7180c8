using System.Net;
using System.Text.Json;

namespace MilterHost.Tools.RelayTest;

/// <summary>The output of <c>relay-test</c>: an aligned table and a verdict line, or one JSON object.</summary>
internal static class RelayReportWriter
{
    /// <summary>The table of tricks, then one line saying what it means.</summary>
    public static void WriteText(TextWriter output, RelayReport report)
    {
        output.WriteLine($"Probed {Show(report.Server)} ({report.HostName ?? "no host name in its greeting"}) from {Show(report.Source)}; local domain {report.LocalDomain}.");
        var table = new TextTable("TRICK", "MAIL FROM", "RCPT TO", "MAIL REPLY", "RCPT REPLY", "VERDICT");
        foreach (var attempt in report.Attempts)
        {
            table.Add(attempt.Trick.Name, $"<{attempt.Trick.MailFrom}>", $"<{attempt.Trick.RcptTo}>",
                attempt.Mail?.Text ?? "-", attempt.Rcpt?.Text ?? attempt.Note ?? "-", VerdictName(attempt.Verdict));
        }
        table.WriteTo(output);
        output.WriteLine(Summary(report));
    }

    /// <summary>What the run means, in one sentence.</summary>
    public static string Summary(RelayReport report)
    {
        var total = report.Attempts.Count;
        if (report.IsOpenRelay)
        {
            var accepted = report.Attempts.Where(a => a.Verdict == RelayVerdict.Accepted).Select(a => a.Trick.Name);
            return $"OPEN RELAY: {report.Count(RelayVerdict.Accepted)} of {total} foreign recipients were accepted ({string.Join(", ", accepted)}).";
        }
        var notTried = report.Count(RelayVerdict.NotTried);
        if (notTried > 0)
            return $"Inconclusive: {notTried} of {total} tricks could not be tried; the others were refused.";
        var deferred = report.Count(RelayVerdict.Deferred);
        return deferred == 0
            ? $"Not an open relay: all {total} foreign recipients were refused."
            : $"Not an open relay for now: all {total} foreign recipients were refused, {deferred} only temporarily (4xx); "
              + "run the test again once that condition has passed.";
    }

    /// <summary>
    /// <c>{"target","server","source","greeting","hostName","localDomain","openRelay","exitCode","failure",
    /// "attempts":[{"trick","mailFrom","rcptTo","mailReply":[lines],"rcptReply":[lines],"verdict","note"}],
    /// "transcript":[lines] (with -v)}</c>; a reply that never came is null.
    /// </summary>
    public static string WriteJson(RelayReport report, IReadOnlyList<string>? transcript)
    {
        return JsonText.Write(json =>
        {
            json.WriteStartObject();
            json.WriteString("target", report.Target.ToString());
            json.WriteString("server", report.Server is null ? null : Show(report.Server));
            json.WriteString("source", report.Source is null ? null : Show(report.Source));
            json.WriteString("greeting", report.Greeting);
            json.WriteString("hostName", report.HostName);
            json.WriteString("localDomain", report.LocalDomain);
            json.WriteBoolean("openRelay", report.IsOpenRelay);
            json.WriteNumber("exitCode", report.ExitCode);
            json.WriteString("failure", report.Failure);
            json.WriteStartArray("attempts");
            foreach (var attempt in report.Attempts)
            {
                json.WriteStartObject();
                json.WriteString("trick", attempt.Trick.Name);
                json.WriteString("mailFrom", attempt.Trick.MailFrom);
                json.WriteString("rcptTo", attempt.Trick.RcptTo);
                Reply(json, "mailReply", attempt.Mail);
                Reply(json, "rcptReply", attempt.Rcpt);
                json.WriteString("verdict", VerdictName(attempt.Verdict).ToLowerInvariant());
                json.WriteString("note", attempt.Note);
                json.WriteEndObject();
            }
            json.WriteEndArray();
            if (transcript is not null)
            {
                json.WriteStartArray("transcript");
                foreach (var line in transcript)
                    json.WriteStringValue(line);
                json.WriteEndArray();
            }
            json.WriteEndObject();
        });
    }

    public static string VerdictName(RelayVerdict verdict) => verdict switch
    {
        RelayVerdict.Refused => "refused",
        RelayVerdict.Deferred => "deferred",
        RelayVerdict.Accepted => "ACCEPTED",
        _ => "not tried",
    };

    private static void Reply(Utf8JsonWriter json, string name, ServerReply? reply)
    {
        if (reply is null)
        {
            json.WriteNull(name);
            return;
        }
        json.WriteStartArray(name);
        foreach (var line in reply.Lines)
            json.WriteStringValue(line);
        json.WriteEndArray();
    }

    private static string Show(IPEndPoint? endPoint) => endPoint is null ? "-" : RelayProbe.Show(endPoint);
}
