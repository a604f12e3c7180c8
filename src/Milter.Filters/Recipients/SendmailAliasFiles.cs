namespace Milter.Filters.Recipients;

/// <summary>A problem with an entry of sendmail.cf, at its line and column (1-based).</summary>
public sealed record SendmailCfError(string File, int Line, int Column, string Message)
{
    public override string ToString() => $"{File}:{Line}:{Column}: {Message}";
}

/// <summary>
/// The aliases files sendmail reads, found the way sendmail finds them: every <c>O AliasFile=</c>
/// line of sendmail.cf (and the short form <c>OA</c>), each a comma list of map specs such as
/// <c>/etc/mail/aliases</c>, <c>hash:/etc/mail/aliases</c> or <c>hash:-o /etc/aliases</c>. A map
/// kept in a file (implicit, hash, btree, dbm, cdb) names the text file newaliases builds it from,
/// which is what is read here. Without a sendmail.cf (or without AliasFile in it), the first of the
/// distributions' usual places that exists: <c>/etc/mail/aliases</c> (Debian), <c>/etc/aliases</c>
/// (RHEL and Postfix hosts).
/// </summary>
public static class SendmailAliasFiles
{
    public const string DefaultSendmailCf = "/etc/mail/sendmail.cf";

    /// <summary>Where the distributions keep the aliases file, in the order tried.</summary>
    public static readonly IReadOnlyList<string> KnownPaths = ["/etc/mail/aliases", "/etc/aliases"];

    // Map classes whose spec names a file on this host; the others (nis, ldap, sequence, ...) cannot be read here.
    private static readonly string[] FileClasses = ["implicit", "hash", "btree", "dbm", "cdb"];

    /// <summary>
    /// The aliases text files to read: <see cref="AliasFileSearch.Files"/>; a configured file that
    /// does not exist is an error at its sendmail.cf position (unless its spec says <c>-o</c>,
    /// optional); what could not be used is said once in <see cref="AliasFileSearch.Notes"/>.
    /// </summary>
    public static AliasFileSearch Find(string sendmailCf, IReadOnlyList<string> knownPaths)
    {
        ArgumentNullException.ThrowIfNull(sendmailCf);
        ArgumentNullException.ThrowIfNull(knownPaths);
        var files = new List<string>();
        var errors = new List<SendmailCfError>();
        var notes = new List<string>();
        var entries = 0;
        if (File.Exists(sendmailCf))
        {
            var lineNo = 0;
            foreach (var line in File.ReadLines(sendmailCf))
            {
                lineNo++;
                if (AliasFileValue(line) is not { } valueStart)
                    continue;
                foreach (var (spec, column) in SplitSpecs(line, valueStart))
                {
                    entries++;
                    Classify(spec, sendmailCf, lineNo, column, files, errors, notes);
                }
            }
            if (entries > 0)
                return new AliasFileSearch(files, errors, notes);
        }

        var why = File.Exists(sendmailCf) ? $"{sendmailCf} sets no AliasFile" : $"no {sendmailCf}";
        var found = knownPaths.FirstOrDefault(File.Exists);
        if (found is not null)
            files.Add(found);
        notes.Add(found is not null
            ? $"{why}; reading {found}"
            : $"{why}, and none of {string.Join(", ", knownPaths)} exists on this system: no aliases are read");
        return new AliasFileSearch(files, errors, notes);
    }

    // The index where the value of an AliasFile option starts, or null for any other line.
    private static int? AliasFileValue(string line)
    {
        if (line.StartsWith("OA", StringComparison.Ordinal))
            return 2;
        if (!line.StartsWith("O ", StringComparison.Ordinal))
            return null;
        var at = 2;
        while (at < line.Length && line[at] == ' ')
            at++;
        const string name = "AliasFile";
        if (string.CompareOrdinal(line, at, name, 0, name.Length) != 0)
            return null;
        at += name.Length;
        while (at < line.Length && line[at] == ' ')
            at++;
        return at < line.Length && line[at] == '=' ? at + 1 : null;
    }

    // Each comma-separated spec, trimmed, with its 1-based column.
    private static IEnumerable<(string Spec, int Column)> SplitSpecs(string line, int start)
    {
        var from = start;
        while (from <= line.Length)
        {
            var comma = line.IndexOf(',', from);
            var end = comma < 0 ? line.Length : comma;
            var raw = line[from..end];
            var lead = raw.Length - raw.TrimStart().Length;
            var spec = raw.Trim();
            if (spec.Length > 0)
                yield return (spec, from + lead + 1);
            if (comma < 0)
                yield break;
            from = comma + 1;
        }
    }

    private static void Classify(string spec, string cf, int line, int column, List<string> files, List<SendmailCfError> errors, List<string> notes)
    {
        // "class:args" when the part before the first colon is a map class name; a plain path otherwise.
        var colon = spec.IndexOf(':', StringComparison.Ordinal);
        var hasClass = colon > 0 && spec[..colon].All(char.IsAsciiLetterOrDigit);
        var mapClass = hasClass ? spec[..colon].ToLowerInvariant() : "implicit";
        var arguments = hasClass ? spec[(colon + 1)..] : spec;
        if (!FileClasses.Contains(mapClass))
        {
            notes.Add($"{cf}:{line}:{column}: AliasFile entry '{spec}' is a {mapClass} map, which milterhost cannot read; skipped");
            return;
        }

        // Map flags come first, one letter each after '-' with any argument attached ("-o" optional,
        // "-N", "-kname"), then the file.
        var words = arguments.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
        var flags = words.TakeWhile(w => w.StartsWith('-')).ToArray();
        var optional = flags.Any(w => w.StartsWith("-o", StringComparison.Ordinal));
        var path = words.Skip(flags.Length).FirstOrDefault();
        if (path is null)
        {
            errors.Add(new SendmailCfError(cf, line, column, $"AliasFile entry '{spec}' names no file"));
            return;
        }
        // A file map's name may be written with the database's suffix; the text source has none.
        if (path.EndsWith(".db", StringComparison.Ordinal))
            path = path[..^3];
        if (File.Exists(path))
        {
            if (!files.Contains(path, StringComparer.Ordinal))
                files.Add(path);
        }
        else if (optional)
        {
            notes.Add($"{cf}:{line}:{column}: AliasFile entry '{spec}' is optional and {path} does not exist; skipped");
        }
        else
        {
            errors.Add(new SendmailCfError(cf, line, column,
                $"AliasFile entry '{spec}' names {path}, which does not exist (create it, or fix the AliasFile option in sendmail.mc)"));
        }
    }
}

/// <summary>What <see cref="SendmailAliasFiles.Find"/> found.</summary>
/// <param name="Files">The aliases text files to read, in sendmail's order.</param>
/// <param name="Errors">Configured files that do not exist, at their sendmail.cf positions.</param>
/// <param name="Notes">What was skipped or not found, to be logged once.</param>
public sealed record AliasFileSearch(IReadOnlyList<string> Files, IReadOnlyList<SendmailCfError> Errors, IReadOnlyList<string> Notes);
