using System.Net;
using System.Text.RegularExpressions;
using Milter.Protocol.Session;

namespace Milter.Filters.Configuration;

// The effective configuration, as immutable records with the defaults of docs/design.md. The host binds
// YAML to these (Milter.Host/Configuration), validates once, and swaps the whole tree on SIGHUP; a
// session takes its snapshot at CONNECT. Lists given as "file:PATH" etc. are resolved by the host.

/// <summary>
/// The settings of milterhost.yaml that the filters, the chain and the stores read. The host's root
/// record (MilterHost.Configuration.DaemonOptions) adds what only the daemon reads: listen, socket,
/// user, log, status.
/// </summary>
public record MilterOptions
{
    /// <summary><c>sqlite:PATH</c> or <c>postgres:CONNECTION-STRING</c>.</summary>
    public string Database { get; init; } = "sqlite:/var/lib/milterhost/milterhost.db";
    public OnError OnError { get; init; } = OnError.Tempfail;
    /// <summary>The <c>limits:</c> section: the bounds of the listener and its connections.</summary>
    public MilterLimits Limits { get; init; } = new();
    /// <summary>Local domains as written: names, <c>.sub.example</c> wildcards, and <c>file:PATH</c> entries.</summary>
    public IReadOnlyList<string> LocalDomains { get; init; } = [];
    public RelayOptions Relay { get; init; } = new();
    public RecipientsOptions Recipients { get; init; } = new();
    public IReadOnlyList<BanRule> Ban { get; init; } = [];
    public GreylistOptions Greylist { get; init; } = new();
    public SpfOptions Spf { get; init; } = new();
    public DnsOptions Dns { get; init; } = new();
    public IReadOnlyList<DnsListOptions> DnsLists { get; init; } = [];
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

public sealed record RelayOptions
{
    /// <summary>Relay control; off only when written so (check-config warns), also when left out of <c>filters:</c>.</summary>
    public bool Enabled { get; init; } = true;
    public IReadOnlyList<IPNetwork> AllowClients { get; init; } =
        [IPNetwork.Parse("127.0.0.0/8"), IPNetwork.Parse("::1/128")];
    public bool AllowAuthenticated { get; init; } = true;
    /// <summary>
    /// Accounts (names or uids) whose mail submitted on this host (loopback clients, local
    /// submissions) may go to foreign domains; null: every local user, and loopback clients are
    /// judged by <see cref="AllowClients"/> like any other.
    /// </summary>
    public IReadOnlyList<string>? LocalUsers { get; init; }
    /// <summary>The account the submission program connects as for others (Debian's sendmail: <c>smmsp</c>).</summary>
    public string SubmissionUser { get; init; } = "smmsp";
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
    /// <summary>
    /// <c>X-Greylist: delayed N seconds by milterhost-VERSION at HOST; DATE</c> on a message that
    /// waited; an <c>X-Greylist</c> header the message arrives with is removed (it could be forged).
    /// </summary>
    public bool AddHeader { get; init; } = true;
    /// <summary>With <see cref="AddHeader"/>: also <c>X-Greylist: passed, auto-whitelisted by ...</c> when the auto-whitelist let the message through at once.</summary>
    public bool AddHeaderWhitelisted { get; init; }
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
    /// <summary>
    /// Host-name globs (<c>*.google.com</c>, lowercase) matched against the client's forward-confirmed
    /// reverse DNS, looked up by milterhost itself: a PTR name alone is whatever the address's owner
    /// wrote, so it never counts.
    /// </summary>
    public IReadOnlyList<string> ClientNames { get; init; } = [];
    public bool Authenticated { get; init; } = true;
}

/// <summary>
/// The <c>spf</c> filter: SPF (RFC 7208) of the MAIL FROM domain, or of the HELO name for the null
/// sender, checked for every client but trusted ones (<c>relay.allow_clients</c>), authenticated
/// sessions and local submissions. Off unless one of its switches is on.
/// </summary>
public sealed record SpfOptions
{
    /// <summary>Refuse an SPF <c>fail</c> at RCPT with <c>550 5.7.23</c>; softfail, neutral, none and errors never refuse.</summary>
    public bool RejectFail { get; init; }
    /// <summary>Prepend the result as <c>Received-SPF</c> (RFC 7208 section 9.1); incoming ones that claim this host are removed.</summary>
    public bool AddHeader { get; init; }
    /// <summary>
    /// Recipients an SPF fail is never refused for, as address patterns (exact, glob, <c>@domain</c>,
    /// <c>/regex/</c>). By default postmaster, bare or at any domain: relay control has already
    /// refused every domain but ours for the clients SPF applies to, so in effect postmaster of each local domain.
    /// </summary>
    public IReadOnlyList<string> ExemptRecipients { get; init; } = ["postmaster", "postmaster@*"];

    /// <summary>True when the filter has anything to do.</summary>
    public bool IsOn => RejectFail || AddHeader;
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
