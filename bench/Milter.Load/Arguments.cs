using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Milter.Load;

/// <summary>
/// <c>--name value</c> pairs and bare <c>--flag</c>s. Every option read is checked off; what is left
/// over at the end is an error, so a misspelt option never silently does nothing.
/// </summary>
public sealed class Arguments
{
    private readonly Dictionary<string, string?> _values = new(StringComparer.Ordinal);
    private readonly HashSet<string> _flags;

    public Arguments(IEnumerable<string> args, params string[] flags)
    {
        _flags = new HashSet<string>(flags, StringComparer.Ordinal);
        using var e = args.GetEnumerator();
        while (e.MoveNext())
        {
            var name = e.Current;
            if (!name.StartsWith("--", StringComparison.Ordinal))
                throw new ArgumentException($"unexpected argument '{name}'");
            if (_flags.Contains(name))
            {
                _values[name] = null;
                continue;
            }
            if (!e.MoveNext())
                throw new ArgumentException($"{name} needs a value");
            _values[name] = e.Current;
        }
    }

    public bool Flag(string name) => _values.Remove(name);

    public string? Text(string name) => _values.Remove(name, out var v) ? v : null;

    public string Required(string name) => Text(name) ?? throw new ArgumentException($"{name} is required");

    public long Number(string name, long fallback)
    {
        var text = Text(name);
        if (text is null)
            return fallback;
        var multiplier = 1L;
        if (text.EndsWith('k') || text.EndsWith('K')) { multiplier = 1000; text = text[..^1]; }
        else if (text.EndsWith('m') || text.EndsWith('M')) { multiplier = 1_000_000; text = text[..^1]; }
        if (!long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var n) || n < 0)
            throw new ArgumentException($"{name}: '{text}' is not a non-negative number");
        return n * multiplier;
    }

    public TimeSpan Duration(string name, TimeSpan fallback) => Duration(name) ?? fallback;

    /// <summary>A duration written 500ms, 2s or 1m; null when the option is absent.</summary>
    public TimeSpan? Duration(string name)
    {
        var text = Text(name);
        if (text is null)
            return null;
        var (number, unit) = text.EndsWith("ms", StringComparison.Ordinal) ? (text[..^2], 0.001)
            : text.EndsWith('s') ? (text[..^1], 1.0)
            : text.EndsWith('m') ? (text[..^1], 60.0)
            : (text, 1.0);
        if (!double.TryParse(number, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) || value < 0)
            throw new ArgumentException($"{name}: '{text}' is not a duration (500ms, 2s, 1m)");
        return TimeSpan.FromSeconds(value * unit);
    }

    public T Choice<T>(string name, T fallback) where T : struct, Enum
    {
        var text = Text(name);
        if (text is null)
            return fallback;
        return Enum.TryParse<T>(text, ignoreCase: true, out var v) && Enum.IsDefined(v)
            ? v
            : throw new ArgumentException($"{name}: '{text}' is not one of {string.Join('|', Enum.GetNames<T>()).ToLowerInvariant()}");
    }

    /// <summary>Throws for every option nobody read.</summary>
    public void EnsureAllUsed()
    {
        if (_values.Count > 0)
            throw new ArgumentException($"unknown option(s): {string.Join(", ", _values.Keys)}");
    }

    /// <summary>sendmail's socket syntax: <c>unix:PATH</c>, <c>local:PATH</c>, <c>inet:PORT@HOST</c>, <c>inet6:PORT@HOST</c>.</summary>
    public static EndPoint ParseTarget(string target)
    {
        var colon = target.IndexOf(':');
        var kind = colon < 0 ? "" : target[..colon];
        var rest = colon < 0 ? target : target[(colon + 1)..];
        switch (kind)
        {
            case "unix" or "local" when rest.Length > 0:
                return new UnixDomainSocketEndPoint(rest);
            case "inet" or "inet6":
                var at = rest.IndexOf('@');
                if (at > 0 && ushort.TryParse(rest[..at], NumberStyles.None, CultureInfo.InvariantCulture, out var port)
                    && IPAddress.TryParse(rest[(at + 1)..].Trim('[', ']'), out var address))
                    return new IPEndPoint(address, port);
                break;
        }
        throw new ArgumentException($"--target '{target}': expected unix:PATH or inet:PORT@ADDRESS");
    }
}
