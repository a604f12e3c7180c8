using System.Globalization;

namespace MilterHost.Tools.LogScan;

/// <summary>The human output of <c>logscan</c>: the offenders as an aligned table, then a summary.</summary>
internal static class LogScanTextWriter
{
    public static void Write(TextWriter output, LogScanReport report)
    {
        var window = report.Since is { } since ? $"since {Time(since)}" : "in the whole log";
        if (report.Offenders.Count == 0)
        {
            output.WriteLine($"No offenders: no client reached {report.Threshold} events {window}.");
        }
        else
        {
            var table = new TextTable("IP", "EVENTS", "KINDS", "FIRST SEEN", "LAST SEEN", "REVERSE NAME").AlignRight(1);
            foreach (var offender in report.Offenders)
                table.Add(Row(offender.Activity));
            table.WriteTo(output);
            output.WriteLine();
            output.WriteLine($"{report.Offenders.Count} offender(s) with {report.Threshold} or more events {window}.");
        }
        foreach (var exempt in report.Exempt)
            output.WriteLine($"Not banned: {exempt.Activity.Address} ({exempt.Activity.Count} events), {exempt.Why}.");
        var scan = report.Scan;
        output.WriteLine(
            $"Read {scan.Lines} lines from {report.Files.Count - report.FileErrors.Count} file(s): {scan.Events} events in the window, " +
            $"{scan.OutsideWindow} before it, {scan.Unattributed} without a client, {scan.Duplicates} logged twice, " +
            $"{scan.Authenticated} in authenticated sessions, {scan.Ambiguous} ambiguous refusals counted for nobody, " +
            $"{scan.Unrecognised} unrecognised lines skipped.");
    }

    private static string[] Row(ClientActivity client) =>
    [
        client.Address.ToString(),
        client.Count.ToString(CultureInfo.InvariantCulture),
        string.Join(",", client.Kinds.Select(k => $"{k.Key.Name()}:{k.Value}")),
        Time(client.FirstSeen),
        Time(client.LastSeen),
        client.ReverseName is null ? "-" : client.NameMayBeForged ? client.ReverseName + " (may be forged)" : client.ReverseName,
    ];

    internal static string Time(DateTimeOffset at) => at.ToString("yyyy-MM-dd HH:mm:ss zzz", CultureInfo.InvariantCulture);
}
