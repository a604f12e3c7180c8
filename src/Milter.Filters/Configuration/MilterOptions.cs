using System.Net;
using System.Text.RegularExpressions;

namespace Milter.Filters.Configuration;

// The effective configuration, as immutable records with the defaults of docs/design.md. The host binds
// YAML to these (Milter.Host/Configuration), validates once, and swaps the whole tree on SIGHUP; a
// session takes its snapshot at CONNECT. Lists given as "file:PATH" etc. are resolved by the host.

/// <summary>The root of milterhost.yaml.</summary>
public sealed record MilterOptions
{
    /// <summary>Where to listen: <c>unix:PATH</c>, <c>inet:PORT@HOST</c>, <c>inet6:PORT@HOST</c>.</summary>
    public string Listen { get; init; } = "unix:/run/milterhost/milter.sock";
    public SocketOptions Socket { get; init; } = new();
    /// <summary>Drop root to this user after binding; null: stay who we are (refused as root unless "root").</summary>
    public string? User { get; init; }
    /// <summary><c>sqlite:PATH</c> or <c>postgres:CONNECTION-STRING</c>.</summary>
    public string Database { get; init; } = "sqlite:/var/lib/milterhost/milterhost.db";
    public OnError OnError { get; init; } = OnError.Tempfail;
    public LogOptions Log { get; init; } = new();
    public LimitsOptions Limits { get; init; } = new();
    /// <summary>Local domains as written: names, <c>.sub.example</c> wildcards, and <c>file:PATH</c> entries.</summary>
    public IReadOnlyList<string> LocalDomains { get; init; } = [];
    public RelayOptions Relay { get; init; } = new();
    public RecipientsOptions Recipients { get; init; } = new();
    public IReadOnlyList<BanRule> Ban { get; init; } = [];
    public GreylistOptions Greylist { get; init; } = new();
    public DnsOptions Dns { get; init; } = new();
    public IReadOnlyList<DnsListOptions> DnsLists { get; init; } = [];
    public StatusOptions? Status { get; init; }
    /// <summary>What <c>logscan</c> uses when its command line does not say (the daily timer runs it without options).</summary>
    public LogScanSettings LogScan { get; init; } = new();
    /// <summary>The filter chain, by name, in the order the filters run; a filter left out is off.</summary>
    public IReadOnlyList<string> Filters { get; init; } = Milter.Filters.FilterNames.Default;
    /// <summary>The top-level <c>mode:</c>, for every filter whose own section does not say (relay control excepted).</summary>
    public FilterMode Mode { get; init; } = FilterMode.Enforce;
    /// <summary>The <c>mode:</c> written in a filter's own section, by filter name.</summary>
    public IReadOnlyDictionary<string, FilterMode> FilterModes { get; init; } = new Dictionary<string, FilterMode>();

    /// <summary>
    /// The mode <paramref name="filter"/> runs in: its own section's <c>mode:</c>, else the top-level
    /// one; relay control stays enforced unless its own section says <c>mode: monitor</c>, so a
    /// monitored rollout never opens the relay.
    /// </summary>
    public FilterMode ModeOf(string filter) =>
        FilterModes.TryGetValue(filter, out var own) ? own
        : filter == Milter.Filters.FilterNames.Relay ? FilterMode.Enforce
        : Mode;

    /// <summary><see cref="ModeOf"/> for every filter of <see cref="Filters"/>.</summary>
    public IReadOnlyDictionary<string, FilterMode> Modes() => Filters.Distinct().ToDictionary(f => f, ModeOf, StringComparer.Ordinal);
}

public enum OnError { Tempfail, Accept }

public sealed record SocketOptions
{
    /// <summary>Octal file mode of the Unix socket.</summary>
    public string Mode { get; init; } = "0660";
    /// <summary>Group owning the Unix socket (sendmail's <c>smmsp</c>); null: leave as created.</summary>
    public string? Group { get; init; }
}

public sealed record LogOptions
{
    public string Level { get; init; } = "info";
    public bool Syslog { get; init; } = true;
    public string? File { get; init; }
}

/// <summary>Bounds a hostile or stuck peer could otherwise push.</summary>
public sealed record LimitsOptions
{
    /// <summary>Concurrent milter connections; sendmail opens one per SMTP session.</summary>
    public int MaxConnections { get; init; } = 1000;
    /// <summary>A connection silent this long between commands is closed (sendmail's own timeouts are shorter).</summary>
    public TimeSpan IdleTimeout { get; init; } = TimeSpan.FromMinutes(10);
    /// <summary>Largest frame accepted; sendmail sends at most 64 KiB unless 256K/1M was agreed.</summary>
    public int MaxFrameSize { get; init; } = 1024 * 1024 + 64;
    /// <summary>
    /// How long a filter may work on one stage before the session answers per on_error; below
    /// sendmail's T=R: read timeout (30 s in our INPUT_MAIL_FILTER line), so sendmail hears the answer.
    /// </summary>
    public TimeSpan StageTimeout { get; init; } = TimeSpan.FromSeconds(20);
    /// <summary>On SIGTERM, how long sessions in flight may take to finish.</summary>
    public TimeSpan ShutdownGrace { get; init; } = TimeSpan.FromSeconds(10);
}

public sealed record RelayOptions
{
    /// <summary>Relay control; off only when written so (check-config warns), also when left out of <c>filters:</c>.</summary>
    public bool Enabled { get; init; } = true;
    public IReadOnlyList<IPNetwork> AllowClients { get; init; } =
        [IPNetwork.Parse("127.0.0.0/8"), IPNetwork.Parse("::1/128")];
    public bool AllowAuthenticated { get; init; } = true;
}

public enum RecipientAction { Reject, Discard }

public sealed record RecipientsOptions
{
    public bool RejectUnknown { get; init; } = true;
    public RecipientAction Action { get; init; } = RecipientAction.Reject;
    /// <summary>
    /// <c>passwd</c>, <c>aliases</c> (the files sendmail.cf's AliasFile names, see
    /// <see cref="Recipients.SendmailAliasFiles"/>), <c>aliases:PATH</c>, <c>virtusertable:PATH</c>.
    /// </summary>
    public IReadOnlyList<string> Sources { get; init; } = ["passwd", "aliases"];
    /// <summary>The sendmail.cf whose AliasFile option the <c>aliases</c> source reads.</summary>
    public string SendmailCf { get; init; } = Recipients.SendmailAliasFiles.DefaultSendmailCf;
    public IReadOnlyList<string> Addresses { get; init; } = [];
}

public enum BanKind { Client, ClientName, Helo, Sender, Recipient, Subject }

public enum BanAction { Reject, Tempfail, Discard }

/// <summary>
/// One ban rule: exactly one matcher. <see cref="Id"/> names it in log lines (<c>ban[3] sender</c>
/// or the file position), <see cref="Pattern"/> is the text as written.
/// </summary>
public sealed record BanRule
{
    public required BanKind Kind { get; init; }
    public required string Pattern { get; init; }
    public BanAction Action { get; init; } = BanAction.Reject;
    /// <summary>The SMTP reply, e.g. <c>550 5.7.1 Go away</c>; null: the filter's default.</summary>
    public string? Reply { get; init; }
    /// <summary>Stable id for logs: <c>ban#N</c> (1-based position) plus where it was written.</summary>
    public string Id { get; init; } = "";
}

public sealed record GreylistOptions
{
    public bool Enabled { get; init; } = true;
    public TimeSpan Delay { get; init; } = TimeSpan.FromMinutes(2);
    public TimeSpan RetryWindow { get; init; } = TimeSpan.FromHours(5);
    public TimeSpan PassLifetime { get; init; } = TimeSpan.FromDays(36);
    public SubnetOptions Subnet { get; init; } = new();
    public AutoWhitelistOptions AutoWhitelist { get; init; } = new();
    public BypassBanOptions BypassBan { get; init; } = new();
    public GreylistSkipOptions Skip { get; init; } = new();
    public bool PerMessage { get; init; } = true;
    public bool SpfPools { get; init; } = true;
    public bool OnlySuspicious { get; init; }
    public IReadOnlyList<Regex> SuspiciousNames { get; init; } =
    [
        // A whole label or dash-separated word only: "host" or "client" would also catch hostedemail.example.
        new Regex(@"(^|[.-])(dyn|dynamic|dsl|adsl|dhcp|pool|ppp|cable|broadband|dialup)[\d.-]", RegexOptions.IgnoreCase | RegexOptions.NonBacktracking),
        new Regex(@"\d{1,3}[-.x]\d{1,3}[-.x]\d{1,3}", RegexOptions.NonBacktracking),
    ];
}

public sealed record SubnetOptions
{
    public int Ipv4 { get; init; } = 24;
    public int Ipv6 { get; init; } = 64;
}

public sealed record AutoWhitelistOptions
{
    public int After { get; init; } = 5;
    public TimeSpan Lifetime { get; init; } = TimeSpan.FromDays(36);
}

public sealed record BypassBanOptions
{
    public int After { get; init; } = 3;
    public TimeSpan Within { get; init; } = TimeSpan.FromHours(1);
    public TimeSpan BanFor { get; init; } = TimeSpan.FromDays(7);
}

public sealed record GreylistSkipOptions
{
    public IReadOnlyList<IPNetwork> Clients { get; init; } = [];
    /// <summary>Address patterns as for ban rules (exact, glob, <c>@domain</c>, <c>/regex/</c>).</summary>
    public IReadOnlyList<string> Senders { get; init; } = [];
    public IReadOnlyList<string> Recipients { get; init; } = [];
    public bool Authenticated { get; init; } = true;
}

public sealed record DnsOptions
{
    /// <summary><c>IP</c> or <c>IP:PORT</c>; empty: the system resolver (resolv.conf).</summary>
    public IReadOnlyList<string> Servers { get; init; } = [];
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(2);
}

public enum DnsListAction { SkipGreylist, Reject, Tempfail }

public sealed record DnsListOptions
{
    public required string Zone { get; init; }
    /// <summary>Return codes that count, as written (<c>127.0.0.2</c> or <c>127.0.0.2-127.0.0.11</c>); empty: any.</summary>
    public IReadOnlyList<string> Codes { get; init; } = [];
    public DnsListAction Action { get; init; } = DnsListAction.Reject;
    public string Id { get; init; } = "";
}

public sealed record LogScanSettings
{
    /// <summary>Events per address inside the window that make it an offender.</summary>
    public int Threshold { get; init; } = 5;
    /// <summary>How far back events count.</summary>
    public TimeSpan Since { get; init; } = TimeSpan.FromHours(24);
    /// <summary>How long an <c>--apply</c> ban lasts.</summary>
    public TimeSpan BanFor { get; init; } = TimeSpan.FromDays(7);
}

public sealed record StatusOptions
{
    /// <summary><c>HOST:PORT</c> for the status/metrics HTTP listener.</summary>
    public string Listen { get; init; } = "127.0.0.1:8025";
    public string? Token { get; init; }
}
