using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Milter.Filters.Logging;
using Milter.Filters.Configuration;
using Milter.Filters.Relay;

namespace Milter.Filters.Recipients;

/// <summary>
/// Who exists at our domains, from <c>recipients.sources</c> and <c>recipients.addresses</c>.
/// Order, as sendmail resolves: a listed address; the virtusertable (<c>user+detail@domain</c>,
/// <c>user+*@domain</c>, <c>user@domain</c>, then the <c>@domain</c> catch-all); an alias; a
/// local account. <c>user+detail</c> falls back to <c>user</c>; local parts compare
/// case-insensitively. Files are re-read when they change, checked at most once per interval.
/// Safe for concurrent sessions.
/// </summary>
public sealed class RecipientDirectory
{
    /// <summary>How often source files are looked at for changes, by default.</summary>
    public static readonly TimeSpan DefaultCheckInterval = TimeSpan.FromSeconds(5);

    // getpwnam may ask LDAP; an answer is kept this long so a busy sender costs one lookup.
    private static readonly TimeSpan AccountCacheLifetime = TimeSpan.FromSeconds(60);
    private const int AccountCacheLimit = 10_000;

    private readonly HashSet<string> _addresses = new(StringComparer.OrdinalIgnoreCase);
    private readonly List<WatchedFile<Dictionary<string, RecipientLookup>>> _virtusertables = [];
    private readonly List<WatchedFile<Dictionary<string, RecipientLookup>>> _aliases = [];
    private readonly LocalAccounts? _accounts;
    private readonly TimeProvider _time;
    private readonly ConcurrentDictionary<string, (bool Exists, DateTimeOffset Until)> _accountCache = new(StringComparer.Ordinal);

    private RecipientDirectory(TimeProvider time, LocalAccounts? accounts)
    {
        _time = time;
        _accounts = accounts;
    }

    /// <summary>
    /// Reads the configured sources (paths relative to <paramref name="baseDirectory"/>). The bare
    /// <c>aliases</c> source reads the files sendmail's AliasFile names
    /// (<see cref="SendmailAliasFiles"/>, from <paramref name="knownAliasPaths"/> without a
    /// sendmail.cf); what it skips is logged here, once per load.
    /// </summary>
    /// <exception cref="FormatException">
    /// An unknown source kind, a malformed address, or an AliasFile entry naming a missing file
    /// (the message gives its sendmail.cf file:line:column).
    /// </exception>
    /// <exception cref="IOException">A source file cannot be read.</exception>
    public static RecipientDirectory Load(RecipientsOptions options, string baseDirectory, TimeProvider time, ILogger logger,
        TimeSpan? checkInterval = null, IReadOnlyList<string>? knownAliasPaths = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(baseDirectory);
        ArgumentNullException.ThrowIfNull(time);
        ArgumentNullException.ThrowIfNull(logger);
        var interval = checkInterval ?? DefaultCheckInterval;
        var usesPasswd = options.Sources.Any(s => s.Trim().Equals("passwd", StringComparison.OrdinalIgnoreCase));
        var directory = new RecipientDirectory(time, usesPasswd ? new LocalAccounts() : null);
        foreach (var raw in options.Sources)
        {
            var source = raw.Trim();
            if (source.Equals("passwd", StringComparison.OrdinalIgnoreCase))
                continue;
            if (source.Equals(AliasesFile.SourceName, StringComparison.OrdinalIgnoreCase))
            {
                var search = SendmailAliasFiles.Find(options.SendmailCf, knownAliasPaths ?? SendmailAliasFiles.KnownPaths);
                if (search.Errors.Count > 0)
                    throw new FormatException(string.Join("; ", search.Errors));
                foreach (var note in search.Notes)
                    logger.AliasFileSkipped(note);
                foreach (var file in search.Files)
                    directory._aliases.Add(new(AliasesFile.SourceName, file, (lines, bad) => Counted(AliasesFile.Parse(lines, bad)), time, interval, logger));
                continue;
            }
            var colon = source.IndexOf(':', StringComparison.Ordinal);
            var kind = colon < 0 ? source : source[..colon].ToLowerInvariant();
            var path = colon < 0 ? "" : source[(colon + 1)..].Trim();
            if (colon < 0 || path.Length == 0 || kind is not (AliasesFile.SourceName or VirtusertableFile.SourceName))
                throw new FormatException($"recipients.sources: '{raw}' is not passwd, aliases, aliases:PATH or virtusertable:PATH");
            var full = Path.GetFullPath(path, baseDirectory);
            if (kind == AliasesFile.SourceName)
                directory._aliases.Add(new(kind, full, (lines, bad) => Counted(AliasesFile.Parse(lines, bad)), time, interval, logger));
            else
                directory._virtusertables.Add(new(kind, full, (lines, bad) => Counted(VirtusertableFile.Parse(lines, bad)), time, interval, logger));
        }
        foreach (var address in options.Addresses)
        {
            var a = address.Trim().Trim('<', '>').TrimEnd('.');
            if (a.Length == 0 || a.StartsWith('@') || a.EndsWith('@'))
                throw new FormatException($"recipients.addresses: '{address}' is not user@domain or a bare user name");
            directory._addresses.Add(a);
        }
        return directory;
    }

    /// <summary>What the sources say about a recipient at one of our domains.</summary>
    /// <exception cref="IOException">The account lookup failed (answered per <c>on_error</c>, never as unknown).</exception>
    public RecipientLookup Lookup(RecipientAddress recipient) => Lookup(recipient, mayAskTheSystem: true)!;

    /// <summary>
    /// Like <see cref="Lookup(RecipientAddress)"/>, but null instead of an answer that would need a
    /// getpwnam_r(3) call not in the cache when <paramref name="mayAskTheSystem"/> is false: an NSS
    /// source (LDAP, sss) may block, which must not happen on a socket's event thread.
    /// </summary>
    public RecipientLookup? Lookup(RecipientAddress recipient, bool mayAskTheSystem)
    {
        ArgumentNullException.ThrowIfNull(recipient);
        var local = recipient.LocalPart;
        var baseLocal = recipient.BaseLocalPart;
        var domain = recipient.Domain;

        if (IsListed(local, domain) || (recipient.Detail is not null && IsListed(baseLocal, domain)))
            return RecipientLookup.KnownBy("addresses");

        if (domain is not null)
        {
            foreach (var table in _virtusertables)
            {
                var entries = table.Current;
                if (entries.TryGetValue($"{local}@{domain}", out var hit)
                    || (recipient.Detail is not null
                        && (entries.TryGetValue($"{baseLocal}+*@{domain}", out hit) || entries.TryGetValue($"{baseLocal}@{domain}", out hit)))
                    || entries.TryGetValue($"@{domain}", out hit))
                    return hit;
            }
        }

        foreach (var aliases in _aliases)
        {
            var entries = aliases.Current;
            if (entries.TryGetValue(local, out var hit) || (recipient.Detail is not null && entries.TryGetValue(baseLocal, out hit)))
                return hit;
        }

        if (_accounts is not null)
        {
            var exists = AccountExists(local, mayAskTheSystem);
            if (exists == false && recipient.Detail is not null)
                exists = AccountExists(baseLocal, mayAskTheSystem);
            if (exists is null)
                return null;
            if (exists.Value)
                return RecipientLookup.KnownBy("passwd");
        }

        return RecipientLookup.NotFound;
    }

    private bool IsListed(string local, string? domain) =>
        _addresses.Contains(local) || (domain is not null && _addresses.Contains($"{local}@{domain}"));

    // Null when the answer needs a getpwnam_r call that is not cached and mayAsk is false.
    private bool? AccountExists(string name, bool mayAsk)
    {
        // Account names are lowercase by convention; a sender may write "John".
        var exact = CachedAccount(name, mayAsk);
        var lower = name.ToLowerInvariant();
        return exact != false || lower == name ? exact : CachedAccount(lower, mayAsk);
    }

    private bool? CachedAccount(string name, bool mayAsk)
    {
        var now = _time.GetUtcNow();
        if (_accountCache.TryGetValue(name, out var cached) && cached.Until > now)
            return cached.Exists;
        if (!mayAsk)
            return null;
        var exists = _accounts!.Exists(name);
        if (_accountCache.Count >= AccountCacheLimit)
            _accountCache.Clear();
        _accountCache[name] = (exists, now + AccountCacheLifetime);
        return exists;
    }

    private static (Dictionary<string, RecipientLookup>, int) Counted(Dictionary<string, RecipientLookup> entries) => (entries, entries.Count);
}
