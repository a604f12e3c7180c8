using System.Text;

namespace Milter.TestSupport.Internal;

/// <summary>
/// Reads sendmail's queue control files (queue file version 8): one record per line, keyed by
/// its first letter, continuation lines starting with whitespace.
/// </summary>
internal static class QueueFile
{
    public const string ControlPrefix = "qf";
    public const string QuarantinedPrefix = "hf";
    public const string DataPrefix = "df";

    public static QueuedMessage Read(string queueDirectory, string controlFileName)
    {
        var queueId = controlFileName[2..];
        var records = Records(File.ReadAllBytes(Path.Combine(queueDirectory, controlFileName)));
        var sender = string.Empty;
        var recipients = new List<string>();
        var headers = new List<QueuedHeader>();
        string? quarantine = null;
        foreach (var record in records)
        {
            switch (record[0])
            {
                case 'S':
                    sender = StripBrackets(record[1..]);
                    break;
                case 'R':
                    recipients.Add(StripBrackets(RecipientAddress(record)));
                    break;
                case 'H':
                    headers.Add(Header(record));
                    break;
                case 'q':
                    quarantine = record[1..];
                    break;
            }
        }

        var dataFile = Path.Combine(queueDirectory, DataPrefix + queueId);
        var body = File.Exists(dataFile) ? Encoding.UTF8.GetString(File.ReadAllBytes(dataFile)) : string.Empty;
        return new QueuedMessage(queueId, sender, recipients, headers, body, quarantine);
    }

    private static List<string> Records(byte[] content)
    {
        var records = new List<string>();
        foreach (var line in Encoding.UTF8.GetString(content).Split('\n'))
        {
            if (line.Length == 0 || line == ".")
            {
                continue;
            }

            if ((line[0] == ' ' || line[0] == '\t') && records.Count > 0)
            {
                records[^1] += "\n" + line;
            }
            else
            {
                records.Add(line);
            }
        }

        return records;
    }

    /// <summary><c>R</c>, optional flag letters, <c>:</c>, the address (older files have no flags and no colon).</summary>
    private static string RecipientAddress(string record)
    {
        var colon = record.IndexOf(':', StringComparison.Ordinal);
        return colon > 0 && !record.AsSpan(1, colon - 1).ContainsAnyExceptInRange('A', 'Z')
            ? record[(colon + 1)..]
            : record[1..];
    }

    /// <summary><c>H</c>, optional <c>?flags?</c> or <c>?${macro}?</c> condition, <c>Name: value</c>.</summary>
    private static QueuedHeader Header(string record)
    {
        var text = record.AsSpan(1);
        if (text.StartsWith('?'))
        {
            var close = text[1..].IndexOf('?');
            text = close < 0 ? text : text[(close + 2)..];
        }

        var colon = text.IndexOf(':');
        if (colon < 0)
        {
            return new QueuedHeader(text.ToString(), string.Empty);
        }

        var value = text[(colon + 1)..];
        // The single space after the colon is the separator, not part of the value.
        if (value.StartsWith(' '))
        {
            value = value[1..];
        }

        return new QueuedHeader(text[..colon].ToString(), value.ToString());
    }

    private static string StripBrackets(string address) =>
        address.Length >= 2 && address[0] == '<' && address[^1] == '>' ? address[1..^1] : address;
}
