using System.Collections.Frozen;

namespace Milter.TestSupport;

/// <summary>
/// What a <see cref="PrivateSendmail"/> is configured with. The defaults give an MX for
/// <c>example.com</c> that relays only for 127.0.0.1 and ::1 exactly, so a client on
/// 127.0.0.N (N ≠ 1) is an outside sender, and that queues what it accepts without delivering it.
/// </summary>
public sealed record SendmailOptions
{
    /// <summary>The name sendmail calls itself (<c>$j</c>), in its greeting and Received headers.</summary>
    public const string HostName = "mx.example.com";

    /// <summary>Milter flags used when none are given: tempfail when the filter is unreachable, generous timeouts.</summary>
    public const string DefaultMilterFlags = "F=T, T=C:10s;S:30s;R:30s;E:60s";

    public static readonly FrozenDictionary<string, string> StandardAliases = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["postmaster"] = "root",
        ["MAILER-DAEMON"] = "postmaster",
        ["alice"] = "root",
        ["bob"] = "root",
        ["carol"] = "root",
    }.ToFrozenDictionary(StringComparer.Ordinal);

    /// <summary>The listening port on 127.0.0.1 and ::1; null picks a free one with <see cref="FreePort"/>.</summary>
    public int? Port { get; init; }

    /// <summary>Domains delivered locally (class w, the local-host-names file).</summary>
    public IReadOnlyList<string> LocalDomains { get; init; } = ["example.com"];

    /// <summary>
    /// The aliases file: local name to target. A local recipient must be an alias or a system user,
    /// else sendmail itself answers <c>550 5.1.1 &lt;x@example.com&gt;... User unknown</c>.
    /// Defaults: postmaster, MAILER-DAEMON, alice, bob and carol.
    /// </summary>
    public IReadOnlyDictionary<string, string> Aliases { get; init; } = StandardAliases;

    /// <summary>
    /// Access database entries, key to action, e.g. <c>["Connect:127.0.0.9"] = "REJECT"</c> or
    /// <c>["To:partner.example"] = "RELAY"</c>. Empty by default.
    /// </summary>
    public IReadOnlyDictionary<string, string> AccessEntries { get; init; } = FrozenDictionary<string, string>.Empty;

    /// <summary>
    /// The milter's socket as sendmail writes it (<c>unix:/path/milter.sock</c>, <c>inet:9999@127.0.0.1</c>);
    /// null configures no milter. The filter is named <c>mh</c>.
    /// </summary>
    public string? MilterSocket { get; init; }

    /// <summary>The rest of the INPUT_MAIL_FILTER equates after <c>S=</c>.</summary>
    public string MilterFlags { get; init; } = DefaultMilterFlags;

    /// <summary>Relay for any client to any domain (<c>FEATURE(promiscuous_relay)</c>), for relay-test tests.</summary>
    public bool PromiscuousRelay { get; init; }

    /// <summary>Raw lines added to the .mc before the MAILER lines.</summary>
    public IReadOnlyList<string> ExtraMcLines { get; init; } = [];

    /// <summary>Throws <see cref="ArgumentException"/> naming the first value sendmail's files cannot hold.</summary>
    public void Validate()
    {
        if (Port is < 1 or > 65535)
        {
            throw new ArgumentException($"Port {Port} is outside 1-65535.", nameof(Port));
        }

        if (LocalDomains.Count == 0)
        {
            throw new ArgumentException("At least one local domain is needed.", nameof(LocalDomains));
        }

        foreach (var domain in LocalDomains)
        {
            RequireToken(domain, nameof(LocalDomains));
        }

        foreach (var (name, target) in Aliases)
        {
            RequireToken(name, nameof(Aliases));
            if (name.Contains(':', StringComparison.Ordinal))
            {
                throw new ArgumentException($"Alias name '{name}' holds a ':'.", nameof(Aliases));
            }

            RequireLine(target, nameof(Aliases));
        }

        foreach (var (key, action) in AccessEntries)
        {
            RequireToken(key, nameof(AccessEntries));
            RequireLine(action, nameof(AccessEntries));
        }

        if (MilterSocket is not null)
        {
            RequireM4Text(MilterSocket, nameof(MilterSocket));
            if (MilterSocket.Contains(',', StringComparison.Ordinal) || MilterSocket.Any(char.IsWhiteSpace))
            {
                throw new ArgumentException($"Milter socket '{MilterSocket}' may hold no comma or space.", nameof(MilterSocket));
            }
        }

        RequireM4Text(MilterFlags, nameof(MilterFlags));
    }

    private static void RequireToken(string value, string option)
    {
        if (string.IsNullOrEmpty(value) || value.Any(char.IsWhiteSpace) || value.Contains('#', StringComparison.Ordinal))
        {
            throw new ArgumentException($"'{value}' in {option} must be non-empty, without spaces or '#'.", option);
        }
    }

    private static void RequireLine(string value, string option)
    {
        if (string.IsNullOrWhiteSpace(value) || value.Contains('\n', StringComparison.Ordinal) || value.Contains('\r', StringComparison.Ordinal))
        {
            throw new ArgumentException($"'{value}' in {option} must be one non-empty line.", option);
        }
    }

    private static void RequireM4Text(string value, string option)
    {
        RequireLine(value, option);
        if (value.Contains('`', StringComparison.Ordinal) || value.Contains('\'', StringComparison.Ordinal))
        {
            throw new ArgumentException($"'{value}' in {option} may hold no m4 quote (` or ').", option);
        }
    }
}
