namespace Milter.Filters.Relay;

/// <summary>
/// The domains we take mail for (<c>local_domains</c>): exact names, and <c>.example.com</c> for
/// every subdomain of example.com (not example.com itself). Case-insensitive in ASCII only; a
/// trailing dot is ignored. An address literal such as <c>[192.0.2.1]</c> is local only when listed
/// as written. Entries are ASCII (an internationalised domain is written as its A-label,
/// <c>xn--...</c>); a name with any other character is never local, so that no Unicode case or
/// compatibility folding (the Kelvin sign K, the dotless i) can make a foreign domain match ours.
/// </summary>
public sealed class LocalDomains
{
    private const string FilePrefix = "file:";
    private readonly HashSet<string> _exact = new(StringComparer.OrdinalIgnoreCase);
    private readonly HashSet<string> _suffixes = new(StringComparer.OrdinalIgnoreCase); // with the leading dot

    /// <summary>From entries already read: names and <c>.suffix</c> wildcards, no <c>file:</c> entries.</summary>
    /// <exception cref="FormatException">An entry is not a domain name.</exception>
    public LocalDomains(IEnumerable<string> domains)
    {
        ArgumentNullException.ThrowIfNull(domains);
        foreach (var raw in domains)
        {
            var entry = Normalize(raw ?? "");
            if (entry.Length == 0)
                continue;
            var problem = Problem(entry);
            if (problem is not null)
                throw new FormatException($"local domain '{raw}': {problem}");
            if (entry[0] == '.')
                _suffixes.Add(entry);
            else
                _exact.Add(entry);
        }
    }

    /// <summary>No local domains at all: every domain is foreign.</summary>
    public static LocalDomains None { get; } = new([]);

    /// <summary>The entries as normalised, exact names first.</summary>
    public IReadOnlyList<string> Entries => [.. _exact.Order(StringComparer.Ordinal), .. _suffixes.Order(StringComparer.Ordinal)];

    /// <summary>
    /// Reads <c>local_domains</c> as configured: each entry a name, a <c>.suffix</c>, or
    /// <c>file:PATH</c> (relative to <paramref name="baseDirectory"/>) in sendmail's
    /// local-host-names format: names separated by whitespace or lines, <c>#</c> to the end of
    /// the line a comment, blank lines ignored.
    /// </summary>
    /// <exception cref="IOException">A file cannot be read; the message names it.</exception>
    /// <exception cref="FormatException">An entry is not a domain name; the message names the file and line.</exception>
    public static LocalDomains Load(IEnumerable<string> entries, string baseDirectory)
    {
        ArgumentNullException.ThrowIfNull(entries);
        ArgumentNullException.ThrowIfNull(baseDirectory);
        var names = new List<string>();
        foreach (var entry in entries)
        {
            if (!entry.StartsWith(FilePrefix, StringComparison.Ordinal))
            {
                names.Add(entry);
                continue;
            }
            var path = Path.GetFullPath(entry[FilePrefix.Length..], baseDirectory);
            string[] lines;
            try
            {
                lines = File.ReadAllLines(path);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                throw new IOException($"local_domains: cannot read {path}: {ex.Message}", ex);
            }
            for (var i = 0; i < lines.Length; i++)
            {
                foreach (var name in ParseLine(lines[i]))
                {
                    var problem = Problem(Normalize(name));
                    if (problem is not null)
                        throw new FormatException($"{path}:{i + 1}: '{name}': {problem}");
                    names.Add(name);
                }
            }
        }
        return new LocalDomains(names);
    }

    /// <summary>The names on one line of a local-host-names file.</summary>
    internal static IEnumerable<string> ParseLine(string line)
    {
        var hash = line.IndexOf('#', StringComparison.Ordinal);
        var text = hash >= 0 ? line[..hash] : line;
        return text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
    }

    /// <summary>True when <paramref name="domain"/> (no <c>@</c>) is one of ours.</summary>
    public bool Contains(string? domain)
    {
        if (string.IsNullOrEmpty(domain))
            return false;
        var d = Normalize(domain);
        // Only ASCII compares case-insensitively without surprises: see the class summary.
        if (d.Length == 0 || !System.Text.Ascii.IsValid(d))
            return false;
        if (_exact.Contains(d))
            return true;
        if (_suffixes.Count == 0 || d[0] == '[')
            return false;
        // Every proper suffix that starts at a dot: a.b.example.com -> .b.example.com, .example.com, .com
        for (var i = d.IndexOf('.', StringComparison.Ordinal); i > 0; i = d.IndexOf('.', i + 1))
        {
            if (_suffixes.Contains(d[i..]))
                return true;
        }
        return false;
    }

    private static string Normalize(string domain) => domain.Trim().TrimEnd('.');

    private static string? Problem(string entry)
    {
        if (entry.Length == 0)
            return "empty name";
        if (entry[0] == '[')
            return entry[^1] == ']' ? null : "an address literal needs its closing ']'";
        if (entry == ".")
            return "a lone dot is not a domain";
        foreach (var c in entry)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '-' or '.' or '_'))
                return $"'{c}' is not allowed in a domain name";
        }
        return entry.Contains("..", StringComparison.Ordinal) ? "empty label" : null;
    }
}
