namespace Milter.Filters.Recipients;

/// <summary>
/// sendmail's aliases(5) text format: <c>name: target, target</c>; a line starting with space or
/// tab continues the previous one; <c>#</c> lines and blank lines are skipped. Every alias name
/// is a known recipient whatever it points at (<c>:include:</c> lists, pipes, files), except
/// one whose target is an <c>error:</c>, which is unknown with that reply.
/// </summary>
internal static class AliasesFile
{
    public const string SourceName = "aliases";

    /// <summary>Alias names (lowercased) to what they say; <paramref name="badLine"/> hears of lines that are not aliases.</summary>
    public static Dictionary<string, RecipientLookup> Parse(IEnumerable<string> lines, Action<int, string>? badLine = null)
    {
        var result = new Dictionary<string, RecipientLookup>(StringComparer.OrdinalIgnoreCase);
        string? current = null;
        var currentLine = 0;
        var number = 0;
        foreach (var line in lines)
        {
            number++;
            if (line.Length > 0 && (line[0] == ' ' || line[0] == '\t'))
            {
                if (current is not null && line.Trim().Length > 0 && line.TrimStart()[0] != '#')
                    current += " " + line.Trim();
                continue;
            }
            if (current is not null)
                Add(result, current, currentLine, badLine);
            current = null;
            if (line.Length == 0 || line[0] == '#')
                continue;
            current = line;
            currentLine = number;
        }
        if (current is not null)
            Add(result, current, currentLine, badLine);
        return result;
    }

    private static void Add(Dictionary<string, RecipientLookup> into, string entry, int line, Action<int, string>? badLine)
    {
        var colon = entry.IndexOf(':', StringComparison.Ordinal);
        if (colon <= 0)
        {
            badLine?.Invoke(line, "no 'name:' at the start");
            return;
        }
        var name = entry[..colon].Trim().Trim('"');
        if (name.Length == 0 || name.Any(char.IsWhiteSpace))
        {
            badLine?.Invoke(line, $"'{entry[..colon]}' is not an alias name");
            return;
        }
        var target = entry[(colon + 1)..].Trim();
        into[name] = ErrorTarget.Parse(target) is { } reply
            ? RecipientLookup.Refused(SourceName, reply)
            : RecipientLookup.KnownBy(SourceName);
    }
}
