using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace MilterHost.Tools.LogScan;

/// <summary>
/// Reads sendmail's and milterhost's lines from the systemd journal through <c>journalctl -o json</c>.
/// An entry counts only when the journal's own fields, which the sender cannot set, show it came from
/// the MTA or the daemon: <c>_SYSTEMD_UNIT</c> sendmail.service with <c>_UID</c> 0 and <c>_COMM</c> one
/// of sendmail's names, or milterhost.service with <c>_COMM</c> milterhost. <c>SYSLOG_IDENTIFIER</c>
/// and <c>SYSLOG_PID</c> are whatever the writer said (<c>logger -t 'sm-mta[1]'</c>) and are not read.
/// </summary>
internal static class JournalReader
{
    public const string SendmailUnit = "sendmail.service", MilterHostUnit = "milterhost.service";

    // _COMM is the executable's name as started, cut to 15 characters: sendmail (RHEL), sendmail-mta
    // (Debian's /usr/sbin/sendmail-mta), sendmail.sendma(il) (RHEL's alternatives target).
    private static readonly string[] SendmailNames = ["sendmail", "sendmail-mta", "sm-mta", "sendmail.sendma"];

    /// <summary>The arguments: JSON, every field whole, only the two units, from the cursor or from <paramref name="since"/>.</summary>
    public static List<string> Arguments(string? cursor, DateTimeOffset? since)
    {
        var arguments = new List<string>
        {
            "--output=json", "--no-pager", "--all",
            "--output-fields=MESSAGE,_COMM,_UID,_PID,_SYSTEMD_UNIT,_HOSTNAME",
            "_SYSTEMD_UNIT=" + SendmailUnit, "_SYSTEMD_UNIT=" + MilterHostUnit,
        };
        if (cursor is not null)
            arguments.Add("--after-cursor=" + cursor);
        else if (since is { } start)
            arguments.Add("--since=@" + start.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture));
        return arguments;
    }

    /// <summary>
    /// Runs journalctl and feeds every trusted entry; returns the cursor of the last entry read (or the
    /// one given) and what journalctl said on stderr (a user outside systemd-journal sees only its own entries).
    /// </summary>
    public static async Task<(string? Cursor, string Warning)> ReadAsync(string journalctl, string? cursor, DateTimeOffset? since, MaillogScanner scanner,
        int maxLineLength, CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo(journalctl, Arguments(cursor, since))
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        Process process;
        try
        {
            process = Process.Start(start) ?? throw new IOException($"cannot start {journalctl}");
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new IOException($"cannot run {journalctl}: {e.Message}", e);
        }
        using (process)
        {
            // Stopped early (Ctrl-C, a timer's timeout): journalctl goes too.
            await using var stop = cancellationToken.Register(() =>
            {
                try
                {
                    process.Kill();
                }
                catch (InvalidOperationException)
                {
                    // It had already ended.
                }
            });
            var errors = process.StandardError.ReadToEndAsync(cancellationToken);
            var last = cursor;
            // JSON escapes a control character as six characters; a message of maxLineLength fits.
            await LogFileReader.ReadLinesAsync(process.StandardOutput.BaseStream, maxLineLength * 6, wholeTail: true, line =>
            {
                if (line is null)
                {
                    scanner.Skip();
                    return;
                }
                var entry = Parse(line);
                // Every entry moves the cursor, trusted or not: the next run starts after it either way.
                if (entry?.Cursor is { } at)
                    last = at;
                if (entry is not null && ToSyslogLine(entry) is { } syslog)
                    scanner.Feed(syslog, counted: true);
                else
                    scanner.Skip();
            }, cancellationToken);
            await process.WaitForExitAsync(cancellationToken);
            var stderr = (await errors).Trim();
            if (process.ExitCode != 0)
                throw new IOException($"{journalctl} exited with {process.ExitCode}{(stderr.Length > 0 ? ": " + stderr : "")}");
            return (last, stderr);
        }
    }

    internal static JournalEntry? Parse(string line)
    {
        try
        {
            return JsonSerializer.Deserialize(line, JournalJson.Default.JournalEntry);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>The entry as a syslog line, its program named by the unit it ran in; null when not the MTA's or the daemon's.</summary>
    internal static SyslogLine? ToSyslogLine(JournalEntry entry)
    {
        var program = entry.Unit switch
        {
            SendmailUnit when entry.Uid == "0" && SendmailNames.Contains(entry.Comm) => "sendmail",
            MilterHostUnit when entry.Comm == "milterhost" => "milterhost",
            _ => null,
        };
        if (program is null || entry.Message is null
            || !long.TryParse(entry.Realtime, NumberStyles.None, CultureInfo.InvariantCulture, out var microseconds))
            return null;
        int? pid = int.TryParse(entry.Pid, NumberStyles.None, CultureInfo.InvariantCulture, out var number) ? number : null;
        var timestamp = DateTimeOffset.UnixEpoch.AddTicks(microseconds * 10);
        return new SyslogLine(timestamp, entry.Hostname ?? "localhost", program, pid, entry.Message);
    }
}

/// <summary>The fields of one <c>journalctl -o json</c> record that logscan reads.</summary>
internal sealed record JournalEntry
{
    [JsonPropertyName("__CURSOR")]
    [JsonConverter(typeof(JournalValueConverter))]
    public string? Cursor { get; init; }

    [JsonPropertyName("__REALTIME_TIMESTAMP")]
    [JsonConverter(typeof(JournalValueConverter))]
    public string? Realtime { get; init; }

    [JsonPropertyName("_HOSTNAME")]
    [JsonConverter(typeof(JournalValueConverter))]
    public string? Hostname { get; init; }

    [JsonPropertyName("_SYSTEMD_UNIT")]
    [JsonConverter(typeof(JournalValueConverter))]
    public string? Unit { get; init; }

    [JsonPropertyName("_COMM")]
    [JsonConverter(typeof(JournalValueConverter))]
    public string? Comm { get; init; }

    [JsonPropertyName("_UID")]
    [JsonConverter(typeof(JournalValueConverter))]
    public string? Uid { get; init; }

    [JsonPropertyName("_PID")]
    [JsonConverter(typeof(JournalValueConverter))]
    public string? Pid { get; init; }

    [JsonPropertyName("MESSAGE")]
    [JsonConverter(typeof(JournalValueConverter))]
    public string? Message { get; init; }
}

/// <summary>
/// A journal field in journalctl's JSON: a string; an array of byte values when it is not valid UTF-8
/// (decoded with U+FFFD for the bad bytes); an array of strings when the field occurs more than once in
/// the entry, read as no value, since which one is meant cannot be told; null when too large.
/// </summary>
internal sealed class JournalValueConverter : JsonConverter<string?>
{
    public override bool HandleNull => true;

    public override string? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        switch (reader.TokenType)
        {
            case JsonTokenType.String:
                return reader.GetString();
            case JsonTokenType.StartArray:
                var bytes = new List<byte>();
                var multiple = false;
                while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                {
                    if (reader.TokenType == JsonTokenType.Number && reader.TryGetByte(out var value))
                        bytes.Add(value);
                    else
                    {
                        multiple = true;
                        reader.Skip();
                    }
                }
                return multiple ? null : new UTF8Encoding(false, false).GetString(bytes.ToArray());
            default:
                reader.Skip();
                return null;
        }
    }

    public override void Write(Utf8JsonWriter writer, string? value, JsonSerializerOptions options) =>
        writer.WriteStringValue(value);
}

[JsonSerializable(typeof(JournalEntry))]
internal sealed partial class JournalJson : JsonSerializerContext;
