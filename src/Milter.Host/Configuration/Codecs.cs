using Milter.Filters.Recipients;
using MilterHost.Configuration;
using System.Globalization;
using System.Net;
using System.Text.RegularExpressions;

namespace MilterHost.Configuration;

/// <summary>The value kinds the configuration is made of, each a parser with its error messages and a printer.</summary>
internal static class Codecs
{
    public static readonly Codec<bool> Bool = new ScalarCodec<bool>("true or false",
        (Binder b, YScalar s, string path, out bool value) =>
        {
            // YAML 1.2 core schema only: "yes", "on" and friends are YAML 1.1 traps (the Norway problem).
            value = s.Value is "true" or "True" or "TRUE";
            if (value || s.Value is "false" or "False" or "FALSE")
                return true;
            b.Error(s, $"{path}: expected true or false, got '{s.Value}'");
            return false;
        },
        v => v ? "true" : "false", plain: true);

    public static readonly Codec<TimeSpan> Duration = DurationCodec(allowZero: true);

    public static readonly Codec<TimeSpan> PositiveDuration = DurationCodec(allowZero: false);

    /// <summary>
    /// limits.shutdown_grace: a duration, with a warning when it reaches the packaged unit's
    /// TimeoutStopSec=30s, past which systemd kills the daemon before its sessions and stores finish.
    /// </summary>
    public static readonly Codec<TimeSpan> ShutdownGrace = new ScalarCodec<TimeSpan>("a duration like 10s",
        (Binder b, YScalar s, string path, out TimeSpan value) =>
        {
            if (!Duration.TryRead(b, s, path, out value))
                return false;
            if (value >= TimeSpan.FromSeconds(25))
                b.Warning(s, $"{path}: {Configuration.Duration.Format(value)} leaves the stores too little of the packaged unit's 30 s to stop in (TimeoutStopSec=30s): systemd kills the daemon then; raise TimeoutStopSec in a drop-in (systemctl edit milterhost) to at least {Configuration.Duration.Format(value + TimeSpan.FromSeconds(20))}");
            return true;
        },
        Configuration.Duration.Format, plain: true);

    /// <summary>Free text, e.g. a group name; only emptiness is refused.</summary>
    public static readonly Codec<string> Text = new ScalarCodec<string>("text", NonEmpty, v => v);

    /// <summary>A user or group name as getpwnam/getgrnam take it.</summary>
    public static readonly Codec<string> AccountName = new ScalarCodec<string>("a user or group name", (Binder b, YScalar s, string path, out string value) =>
    {
        value = s.Value;
        if (value.Length is > 0 and <= 32 && !value.Any(c => char.IsWhiteSpace(c) || c is ':' or '/' || char.IsControl(c)))
            return true;
        b.Error(s, $"{path}: '{s.Value}' is not a user or group name");
        return false;
    }, v => v);

    /// <summary>A file path; relative ones are taken relative to the config file's directory. The file need not exist yet.</summary>
    public static readonly Codec<string> OutputPath = new ScalarCodec<string>("a file path", (Binder b, YScalar s, string path, out string value) =>
    {
        value = s.Value.Length == 0 ? "" : Path.GetFullPath(s.Value, b.BaseDirectory);
        if (value.Length > 0 && !s.Value.EndsWith('/'))
            return true;
        b.Error(s, $"{path}: '{s.Value}' is not a file path");
        return false;
    }, v => v);

    /// <summary>A file that must exist; relative paths are taken relative to the config file's directory.</summary>
    public static readonly Codec<string> ExistingFile = new ScalarCodec<string>("a file path", (Binder b, YScalar s, string path, out string value) =>
        b.TryExistingFile(s, path, s.Value.Trim(), out value), v => v);

    /// <summary>
    /// sendmail.cf: a file that exists, or sendmail's own path, which may be absent (a Postfix host):
    /// written out, as <c>check-config</c> prints the default, it means what leaving it out means.
    /// </summary>
    public static readonly Codec<string> SendmailCf = new ScalarCodec<string>("a file path", (Binder b, YScalar s, string path, out string value) =>
    {
        var written = s.Value.Trim();
        if (written == SendmailAliasFiles.DefaultSendmailCf)
        {
            value = written;
            return true;
        }
        return b.TryExistingFile(s, path, written, out value);
    }, v => v);

    public static readonly Codec<IPNetwork> Network = new ScalarCodec<IPNetwork>("an IP address or CIDR network",
        (Binder b, YScalar s, string path, out IPNetwork value) =>
        {
            if (NetworkSyntax.TryParse(s.Value, out value, out var error))
            {
                // "10.0.0.1/8" is 10.0.0.0/8: more than one host, when one was perhaps meant.
                if (NetworkSyntax.TryParseAddress(s.Value.Trim().Split('/')[0], out var written) && !written.Equals(value.BaseAddress))
                    b.Warning(s, $"{path}: '{s.Value.Trim()}' has host bits set: it is read as {value}, every address in it; write {value} to say so, or {written}/{(written.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? 32 : 128)} for the one address");
                return true;
            }
            b.Error(s, $"{path}: {error}");
            return false;
        },
        n => n.ToString());

    public static readonly Codec<IReadOnlyList<IPNetwork>> Networks = new ListCodec<IPNetwork>(Network, flow: true);

    /// <summary>Regexes matched against host names: case-insensitive, as DNS is.</summary>
    public static readonly Codec<Regex> HostNameRegex = new ScalarCodec<Regex>("a regular expression",
        (Binder b, YScalar s, string path, out Regex value) =>
        {
            if (PatternSyntax.TryRegex(s.Value, RegexOptions.IgnoreCase, out value, out var error, out var offset))
                return true;
            b.Error(s, offset, $"{path}: {error}");
            return false;
        },
        r => r.ToString());

    private static readonly System.Buffers.SearchValues<char> HostNamePatternCharacters =
        System.Buffers.SearchValues.Create("abcdefghijklmnopqrstuvwxyz0123456789-_.*?");

    /// <summary>
    /// A host name or a glob over host names (<c>*.google.com</c>), lowercased: letters, digits,
    /// <c>-</c>, <c>_</c>, <c>.</c> and the wildcards <c>*</c> and <c>?</c>, with at least one letter or
    /// digit (a pattern of wildcards alone would match every name).
    /// </summary>
    public static readonly Codec<string> HostNamePattern = new ScalarCodec<string>("a host name pattern",
        (Binder b, YScalar s, string path, out string value) =>
        {
            value = s.Value.Trim().TrimEnd('.').ToLowerInvariant();
            var bad = value.AsSpan().IndexOfAnyExcept(HostNamePatternCharacters);
            if (value.Length == 0 || bad >= 0)
            {
                b.Error(s, $"{path}: '{s.Value}' is not a host name pattern{(bad >= 0 ? $" ('{value[bad]}' at {bad + 1})" : "")}: letters, digits, '-', '_', '.', '*' and '?'");
                return false;
            }
            if (!value.AsSpan().ContainsAnyExcept("*?.-_"))
            {
                b.Error(s, $"{path}: '{s.Value}' matches every host name (greylist.only_suspicious greylists only suspicious-looking clients)");
                return false;
            }
            return true;
        },
        v => v);

    public static readonly Codec<string> AddressPattern = new ScalarCodec<string>("an address pattern",
        (Binder b, YScalar s, string path, out string value) =>
        {
            value = s.Value.Trim();
            if (PatternSyntax.TryAddressPattern(s.Value, out var error, out var offset))
                return true;
            b.Error(s, offset, $"{path}: {error}");
            return false;
        },
        v => v);

    /// <summary>A full mail address (<c>postmaster@example.com</c>).</summary>
    public static readonly Codec<string> Address = new ScalarCodec<string>("a mail address", (Binder b, YScalar s, string path, out string value) =>
    {
        value = s.Value.Trim().Trim('<', '>');
        var at = value.LastIndexOf('@');
        if (at > 0 && HostNames.IsValid(value[(at + 1)..]) && !value.Any(c => char.IsWhiteSpace(c) || char.IsControl(c)))
            return true;
        b.Error(s, $"{path}: '{s.Value}' is not a mail address (user@domain)");
        return false;
    }, v => v);

    public static Codec<int> Integer(int min, int max) => new ScalarCodec<int>($"a whole number from {min} to {max}",
        (Binder b, YScalar s, string path, out int value) =>
        {
            if (int.TryParse(s.Value, NumberStyles.None, CultureInfo.InvariantCulture, out value) && value >= min && value <= max)
                return true;
            b.Error(s, $"{path}: expected a whole number from {min} to {max}, got '{s.Value}'");
            return false;
        },
        v => v.ToString(CultureInfo.InvariantCulture), plain: true);

    /// <summary>A byte count, plain or with a binary suffix (<c>64K</c>, <c>1M</c>).</summary>
    public static Codec<int> Size(int min, int max) => new ScalarCodec<int>($"a size in bytes from {min} to {max}",
        (Binder b, YScalar s, string path, out int value) =>
        {
            var text = s.Value.Trim();
            var scale = text.EndsWith('K') || text.EndsWith('k') ? 1024L : text.EndsWith('M') || text.EndsWith('m') ? 1024L * 1024 : 1L;
            var digits = scale == 1 ? text : text[..^1];
            value = 0;
            if (long.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n <= max && n * scale >= min && n * scale <= max)
            {
                value = (int)(n * scale);
                return true;
            }
            b.Error(s, $"{path}: expected a size in bytes from {min} to {max} (suffix K or M allowed), got '{s.Value}'");
            return false;
        },
        v => v.ToString(CultureInfo.InvariantCulture), plain: true);

    /// <summary>An enum written in snake_case (<c>skip_greylist</c>).</summary>
    public static Codec<TEnum> Enum<TEnum>() where TEnum : struct, System.Enum
    {
        var names = System.Enum.GetValues<TEnum>().ToDictionary(SnakeCase, v => v, StringComparer.Ordinal);
        var list = string.Join(" | ", names.Keys);
        return new ScalarCodec<TEnum>(list, (Binder b, YScalar s, string path, out TEnum value) =>
        {
            if (names.TryGetValue(s.Value, out value))
                return true;
            var hint = Suggest.Closest(s.Value, names.Keys) is { } near ? $" (did you mean '{near}'?)" : "";
            b.Error(s, $"{path}: expected {list}, got '{s.Value}'{hint}");
            return false;
        }, SnakeCase, plain: true);
    }

    /// <summary>One of a fixed set of words, as written (e.g. log levels).</summary>
    public static Codec<string> OneOf(params string[] words)
    {
        var list = string.Join(" | ", words);
        return new ScalarCodec<string>(list, (Binder b, YScalar s, string path, out string value) =>
        {
            value = s.Value.ToLowerInvariant();
            if (words.Contains(value))
                return true;
            var hint = Suggest.Closest(s.Value, words) is { } near ? $" (did you mean '{near}'?)" : "";
            b.Error(s, $"{path}: expected {list}, got '{s.Value}'{hint}");
            return false;
        }, v => v, plain: true);
    }

    /// <summary>Octal permission bits such as <c>0660</c> (quoted or not; a leading 0 is optional).</summary>
    public static readonly Codec<string> FileMode = new ScalarCodec<string>("an octal file mode like \"0660\"",
        (Binder b, YScalar s, string path, out string value) =>
        {
            value = "";
            var text = s.Value.Trim();
            if (text.Length is >= 3 and <= 4 && text.All(c => c is >= '0' and <= '7') && (text.Length == 3 || text[0] == '0'))
            {
                value = text.PadLeft(4, '0');
                return true;
            }
            b.Error(s, $"{path}: expected an octal file mode like \"0660\", got '{s.Value}'");
            return false;
        },
        v => v);

    public static readonly Codec<string> Listen = new ScalarCodec<string>("a listen address", (Binder b, YScalar s, string path, out string value) =>
    {
        value = "";
        if (ListenAddress.TryParse(s.Value.Trim(), b.BaseDirectory, out var address, out var error))
        {
            value = address!.ToString();
            return true;
        }
        b.Error(s, $"{path}: {error}");
        return false;
    }, v => v);

    public static readonly Codec<string> Database = new ScalarCodec<string>("a database", (Binder b, YScalar s, string path, out string value) =>
    {
        value = "";
        if (DatabaseAddress.TryParse(s.Value.Trim(), b.BaseDirectory, out var address, out var error))
        {
            value = address!.ToString();
            return true;
        }
        b.Error(s, $"{path}: {error}");
        return false;
    }, v => DatabaseAddress.Parse(v).ToDisplayString());

    /// <summary>A secret: read as text, printed as stars.</summary>
    public static readonly Codec<string> Secret = new ScalarCodec<string>("text", NonEmpty, _ => "********");

    /// <summary><c>HOST:PORT</c> for an HTTP listener; an IPv6 host in brackets.</summary>
    public static readonly Codec<string> HostPort = new ScalarCodec<string>("HOST:PORT", (Binder b, YScalar s, string path, out string value) =>
    {
        value = s.Value.Trim();
        if (NetworkSyntax.TryParseHostPort(value, portOptional: false, allowNames: true, out _, out _))
            return true;
        b.Error(s, $"{path}: '{s.Value}' is not HOST:PORT (e.g. 127.0.0.1:8025 or [::1]:8025)");
        return false;
    }, v => v);

    /// <summary>A DNS server: <c>IP</c> or <c>IP:PORT</c> (<c>[IPv6]:PORT</c>).</summary>
    public static readonly Codec<string> DnsServer = new ScalarCodec<string>("IP or IP:PORT", (Binder b, YScalar s, string path, out string value) =>
    {
        value = s.Value.Trim();
        if (NetworkSyntax.TryParseHostPort(value, portOptional: true, allowNames: false, out _, out _))
            return true;
        b.Error(s, $"{path}: '{s.Value}' is not a DNS server address (IP or IP:PORT, e.g. 127.0.0.53 or [::1]:53)");
        return false;
    }, v => v);

    private static Codec<TimeSpan> DurationCodec(bool allowZero) => new ScalarCodec<TimeSpan>($"a duration like 90s, 2m, 4h or 36d",
        (Binder b, YScalar s, string path, out TimeSpan value) =>
        {
            if (!Configuration.Duration.TryParse(s.Value, out value, out var error))
            {
                b.Error(s, $"{path}: {error}");
                return false;
            }
            if (value == TimeSpan.Zero && !allowZero)
            {
                b.Error(s, $"{path}: must be longer than zero");
                return false;
            }
            return true;
        },
        Configuration.Duration.Format, plain: true);

    private static bool NonEmpty(Binder b, YScalar s, string path, out string value)
    {
        value = s.Value.Trim();
        if (value.Length > 0)
            return true;
        b.Error(s, $"{path}: must not be empty");
        return false;
    }

    private static string SnakeCase<TEnum>(TEnum value) where TEnum : struct, System.Enum
    {
        var name = value.ToString();
        var chars = new List<char>(name.Length + 4);
        for (var i = 0; i < name.Length; i++)
        {
            if (char.IsUpper(name[i]) && i > 0)
                chars.Add('_');
            chars.Add(char.ToLowerInvariant(name[i]));
        }
        return new string([.. chars]);
    }
}
