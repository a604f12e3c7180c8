namespace Milter.Filters.Recipients;

/// <summary>
/// sendmail's virtusertable text source: <c>key target</c> per line, keys <c>user@domain</c>,
/// <c>user+*@domain</c> or the catch-all <c>@domain</c>; <c>#</c> lines and blank lines are
/// skipped. A key whose target is an <c>error:</c> is unknown with that reply; any other is known.
/// </summary>
internal static class VirtusertableFile
{
    public const string SourceName = "virtusertable";

    public static Dictionary<string, RecipientLookup> Parse(IEnumerable<string> lines, Action<int, string>? badLine = null)
    {
        var result = new Dictionary<string, RecipientLookup>(StringComparer.OrdinalIgnoreCase);
        var number = 0;
        foreach (var raw in lines)
        {
            number++;
            var line = raw.Trim();
            if (line.Length == 0 || line[0] == '#')
                continue;
            var split = line.IndexOfAny([' ', '\t']);
            if (split <= 0)
            {
                badLine?.Invoke(number, "a key without a target");
                continue;
            }
            var key = line[..split].TrimEnd('.');
            var target = line[(split + 1)..].Trim();
            if (!key.Contains('@', StringComparison.Ordinal) || key.EndsWith('@'))
            {
                badLine?.Invoke(number, $"'{key}' is neither user@domain nor @domain");
                continue;
            }
            result[key] = ErrorTarget.Parse(target) is { } reply
                ? RecipientLookup.Refused(SourceName, reply)
                : RecipientLookup.KnownBy(SourceName);
        }
        return result;
    }
}
