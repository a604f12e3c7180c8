using System.Globalization;
using System.Reflection;

namespace Milter.Filters.Context;

/// <summary>
/// Who writes the trace headers the filters add (<c>X-Greylist</c>, <c>Received-SPF</c>): the
/// software (<c>milterhost-0.1.0</c>) and the host. The host is the name sendmail reports in its
/// <c>{j}</c> macro (its own configured name, sent at CONNECT), or, when the MTA sends none, this
/// machine's host name.
/// </summary>
/// <param name="Software">As the header writes it: <c>milterhost-VERSION</c>.</param>
/// <param name="FallbackHost">The host name when the MTA reports none.</param>
public sealed record TraceStamp(string Software, string FallbackHost)
{
    /// <summary>sendmail's macro for its own host name, as <see cref="FilterNeeds.Macros"/> asks for it at CONNECT.</summary>
    public const string HostMacro = "j";

    /// <summary>milterhost of this build on this machine.</summary>
    public static TraceStamp Local { get; } = new("milterhost-" + VersionOf(typeof(TraceStamp).Assembly), Environment.MachineName);

    /// <summary>The host name for this session's headers: <c>{j}</c> when it is a plain host name, else <see cref="FallbackHost"/>.</summary>
    public string HostOf(SessionContext session)
    {
        ArgumentNullException.ThrowIfNull(session);
        var j = session.Macro(HostMacro)?.Trim().TrimEnd('.');
        return j is not null && IsHostName(j) ? j : FallbackHost;
    }

    /// <summary>True when <paramref name="name"/> is this session's host as <see cref="HostOf"/> reports it, or <see cref="FallbackHost"/>.</summary>
    public bool IsOwnHost(SessionContext session, string name)
    {
        var n = name.Trim().TrimEnd('.');
        return n.Equals(HostOf(session), StringComparison.OrdinalIgnoreCase) || n.Equals(FallbackHost, StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>An RFC 5322 date-time (section 3.3): <c>Sat, 05 Dec 2026 14:09:07 +0100</c>.</summary>
    public static string Date(DateTimeOffset at)
    {
        var offset = at.Offset;
        var sign = offset < TimeSpan.Zero ? '-' : '+';
        var abs = offset.Duration();
        return string.Create(CultureInfo.InvariantCulture,
            $"{at.ToString("ddd, dd MMM yyyy HH:mm:ss", CultureInfo.InvariantCulture)} {sign}{abs.Hours:00}{abs.Minutes:00}");
    }

    // Letters, digits, '-', '_' and dots only: {j} comes from sendmail.cf, but it ends up in a header.
    private static bool IsHostName(string name) =>
        name.Length is > 0 and <= 253 && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.') && !name.StartsWith('.');

    private static string VersionOf(Assembly assembly) =>
        assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "0";
}
