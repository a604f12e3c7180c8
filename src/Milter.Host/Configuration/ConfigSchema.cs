using MilterHost.Configuration;
using Milter.Filters;
using Milter.Filters.Configuration;
using Milter.Filters.Recipients;
using Milter.Protocol.Session;

namespace MilterHost.Configuration;

/// <summary>
/// milterhost.yaml, key by key: the YAML name, the value kind and the record property each binds
/// to. docs/design.md is the prose version of this table; keep them in step. Sections are listed
/// before the sections that contain them.
/// </summary>
internal static class ConfigSchema
{
    private const string FilePrefix = "file:";
    private const string AliasesSource = "aliases";
    private const string AliasesPrefix = AliasesSource + ":";
    private const string VirtusertablePrefix = "virtusertable:";

    /// <summary>
    /// <c>local_domains</c> entries: <c>example.com</c>, <c>.example.com</c> (every subdomain),
    /// <c>[192.0.2.1]</c> (an address literal), or <c>file:PATH</c> in sendmail's local-host-names
    /// format; the file must exist and is stored with its absolute path.
    /// </summary>
    private static readonly Codec<string> LocalDomain = new ScalarCodec<string>("a domain or file:PATH", (Binder b, YScalar s, string path, out string value) =>
    {
        value = s.Value.Trim();
        if (value.StartsWith(FilePrefix, StringComparison.Ordinal))
        {
            var ok = b.TryExistingFile(s, path, value[FilePrefix.Length..], out var full);
            value = FilePrefix + full;
            return ok;
        }
        value = value.ToLowerInvariant();
        var name = value.StartsWith('.') ? value[1..] : value;
        if (HostNames.IsValid(name) || (name.StartsWith('[') && name.EndsWith(']') && NetworkSyntax.TryParseAddress(name[1..^1], out _)))
            return true;
        b.Error(s, $"{path}: '{s.Value}' is not a domain name, .subdomain wildcard, [address] or file:PATH");
        return false;
    }, v => v);

    /// <summary>
    /// <c>recipients.sources</c>: <c>passwd</c>, <c>aliases</c> (sendmail's own AliasFile, checked
    /// with the whole section), <c>aliases:PATH</c>, <c>virtusertable:PATH</c> (files must exist).
    /// </summary>
    private static readonly Codec<string> RecipientSource = new ScalarCodec<string>("passwd, aliases, aliases:PATH or virtusertable:PATH", (Binder b, YScalar s, string path, out string value) =>
    {
        value = s.Value.Trim();
        if (value is "passwd" or AliasesSource)
            return true;
        foreach (var prefix in (string[])[AliasesPrefix, VirtusertablePrefix])
        {
            if (value.StartsWith(prefix, StringComparison.Ordinal))
            {
                var ok = b.TryExistingFile(s, path, value[prefix.Length..], out var full);
                value = prefix + full;
                return ok;
            }
        }
        b.Error(s, $"{path}: '{s.Value}' is not a recipient source; write passwd, aliases, aliases:PATH or virtusertable:PATH");
        return false;
    }, v => v);

    /// <summary>An entry of <c>filters:</c>; whether a filter of that name exists is checked against the catalog (<see cref="FilterOrder"/>).</summary>
    private static readonly Codec<string> FilterName = new ScalarCodec<string>("a filter name", (Binder b, YScalar s, string path, out string value) =>
    {
        value = s.Value.Trim();
        if (MilterHost.Chain.FilterSection.IsKey(value))
            return true;
        b.Error(s, $"{path}: '{s.Value}' is not a filter name");
        return false;
    }, v => v);

    /// <summary>
    /// <c>relay.local_users</c> entries: a uid, or the name of an account NSS knows on this host
    /// (an unknown name would silently refuse that user's mail).
    /// </summary>
    private static readonly Codec<string> LocalUser = new ScalarCodec<string>("a user name or uid", (Binder b, YScalar s, string path, out string value) =>
    {
        value = s.Value.Trim();
        if (Milter.Filters.Relay.LocalSubmitters.ParseUid(value) is not null)
            return true;
        if (!Codecs.AccountName.TryRead(b, s, path, out value))
            return false;
        try
        {
            if (new Milter.Filters.Recipients.LocalAccounts().Exists(value))
                return true;
            b.Error(s, $"{path}: no user '{value}' on this host; write an existing user name or a uid");
        }
        catch (IOException ex)
        {
            b.Error(s, $"{path}: cannot look user '{value}' up: {ex.Message}");
        }
        return false;
    }, v => v);

    private static readonly Codec<string> Zone = new ScalarCodec<string>("a DNS zone", (Binder b, YScalar s, string path, out string value) =>
    {
        value = s.Value.Trim().TrimEnd('.').ToLowerInvariant();
        if (HostNames.IsValid(value))
            return true;
        b.Error(s, $"{path}: '{s.Value}' is not a DNS zone name");
        return false;
    }, v => v);

    /// <summary>A DNS list return code that counts: <c>127.0.0.2</c> or a range <c>127.0.0.2-127.0.0.11</c>.</summary>
    private static readonly Codec<string> ReturnCode = new ScalarCodec<string>("an address or address range", (Binder b, YScalar s, string path, out string value) =>
    {
        value = s.Value.Trim();
        var dash = value.IndexOf('-', StringComparison.Ordinal);
        var low = dash < 0 ? value : value[..dash];
        var high = dash < 0 ? value : value[(dash + 1)..];
        if (IsIPv4(low, out var lo) && IsIPv4(high, out var hi) && lo <= hi)
            return true;
        b.Error(s, $"{path}: '{s.Value}' is not a return code (127.0.0.2) or range (127.0.0.2-127.0.0.11)");
        return false;
    }, v => v);

    private static readonly Section<SocketOptions> Socket = new Section<SocketOptions>(() => new())
        .Field("mode", Codecs.FileMode, o => o.Mode, (o, v) => o with { Mode = v })
        .Field("group", new NullableCodec<string>(Codecs.AccountName), o => o.Group, (o, v) => o with { Group = v });

    private static readonly Section<LogOptions> Log = new Section<LogOptions>(() => new())
        .Field("level", Codecs.OneOf("trace", "debug", "info", "warn", "warning", "error", "fatal", "off"), o => o.Level, (o, v) => o with { Level = v })
        .Field("syslog", Codecs.Bool, o => o.Syslog, (o, v) => o with { Syslog = v })
        .Field("file", new NullableCodec<string>(Codecs.OutputPath), o => o.File, (o, v) => o with { File = v });

    private static readonly Section<MilterLimits> Limits = new Section<MilterLimits>(() => new())
        .Field("max_connections", Codecs.Integer(1, 100_000), o => o.MaxConnections, (o, v) => o with { MaxConnections = v })
        .Field("idle_timeout", Codecs.PositiveDuration, o => o.IdleTimeout, (o, v) => o with { IdleTimeout = v })
        // A body chunk is up to 64 KiB plus the command byte; 64 MiB is far past any MTA's chunk size.
        .Field("max_frame_size", Codecs.Size(65536, 64 * 1024 * 1024), o => o.MaxFrameSize, (o, v) => o with { MaxFrameSize = v })
        .Field("stage_timeout", Codecs.PositiveDuration, o => o.StageTimeout, (o, v) => o with { StageTimeout = v })
        .Field("shutdown_grace", Codecs.ShutdownGrace, o => o.ShutdownGrace, (o, v) => o with { ShutdownGrace = v });

    private static readonly Section<RelayOptions> Relay = new Section<RelayOptions>(() => new())
        .Field("enabled", Codecs.Bool, o => o.Enabled, (o, v) => o with { Enabled = v })
        .Field("allow_clients", Codecs.Networks, o => o.AllowClients, (o, v) => o with { AllowClients = v })
        .Field("allow_authenticated", Codecs.Bool, o => o.AllowAuthenticated, (o, v) => o with { AllowAuthenticated = v })
        .Field("local_users", new NullableCodec<IReadOnlyList<string>>(new ListCodec<string>(LocalUser, flow: true)), o => o.LocalUsers, (o, v) => o with { LocalUsers = v })
        .Field("submission_user", Codecs.AccountName, o => o.SubmissionUser, (o, v) => o with { SubmissionUser = v });

    private static readonly Section<RecipientsOptions> Recipients = new Section<RecipientsOptions>(() => new())
        .Field("reject_unknown", Codecs.Bool, o => o.RejectUnknown, (o, v) => o with { RejectUnknown = v })
        .Field("action", Codecs.Enum<RecipientAction>(), o => o.Action, (o, v) => o with { Action = v })
        .Field("sources", new ListCodec<string>(RecipientSource, flow: false), o => o.Sources, (o, v) => o with { Sources = v })
        .Field("sendmail_cf", Codecs.SendmailCf, o => o.SendmailCf, (o, v) => o with { SendmailCf = v })
        .Field("addresses", new ListCodec<string>(Codecs.Address, flow: true), o => o.Addresses, (o, v) => o with { Addresses = v });

    private static readonly Section<SubnetOptions> Subnet = new Section<SubnetOptions>(() => new(), flow: true)
        .Field("ipv4", Codecs.Integer(0, 32), o => o.Ipv4, (o, v) => o with { Ipv4 = v })
        .Field("ipv6", Codecs.Integer(0, 128), o => o.Ipv6, (o, v) => o with { Ipv6 = v });

    private static readonly Section<AutoWhitelistOptions> AutoWhitelist = new Section<AutoWhitelistOptions>(() => new(), flow: true)
        .Field("after", Codecs.Integer(1, 1_000_000), o => o.After, (o, v) => o with { After = v })
        .Field("lifetime", Codecs.PositiveDuration, o => o.Lifetime, (o, v) => o with { Lifetime = v });

    private static readonly Section<BypassBanOptions> BypassBan = new Section<BypassBanOptions>(() => new(), flow: true)
        .Field("after", Codecs.Integer(1, 1_000_000), o => o.After, (o, v) => o with { After = v })
        .Field("within", Codecs.PositiveDuration, o => o.Within, (o, v) => o with { Within = v })
        .Field("ban_for", Codecs.PositiveDuration, o => o.BanFor, (o, v) => o with { BanFor = v });

    private static readonly Section<GreylistSkipOptions> Skip = new Section<GreylistSkipOptions>(() => new())
        .Field("clients", Codecs.Networks, o => o.Clients, (o, v) => o with { Clients = v })
        .Field("senders", new ListCodec<string>(Codecs.AddressPattern, flow: true), o => o.Senders, (o, v) => o with { Senders = v })
        .Field("recipients", new ListCodec<string>(Codecs.AddressPattern, flow: true), o => o.Recipients, (o, v) => o with { Recipients = v })
        .Field("client_names", new ListCodec<string>(Codecs.HostNamePattern, flow: true), o => o.ClientNames, (o, v) => o with { ClientNames = v })
        .Field("authenticated", Codecs.Bool, o => o.Authenticated, (o, v) => o with { Authenticated = v });

    private static readonly Section<GreylistOptions> Greylist = new Section<GreylistOptions>(() => new())
        .Field("enabled", Codecs.Bool, o => o.Enabled, (o, v) => o with { Enabled = v })
        .Field("delay", Codecs.Duration, o => o.Delay, (o, v) => o with { Delay = v })
        .Field("retry_window", Codecs.PositiveDuration, o => o.RetryWindow, (o, v) => o with { RetryWindow = v })
        .Field("pass_lifetime", Codecs.PositiveDuration, o => o.PassLifetime, (o, v) => o with { PassLifetime = v })
        .Field("subnet", Subnet, o => o.Subnet, (o, v) => o with { Subnet = v })
        .Field("auto_whitelist", AutoWhitelist, o => o.AutoWhitelist, (o, v) => o with { AutoWhitelist = v })
        .Field("bypass_ban", BypassBan, o => o.BypassBan, (o, v) => o with { BypassBan = v })
        .Field("skip", Skip, o => o.Skip, (o, v) => o with { Skip = v })
        .Field("per_message", Codecs.Bool, o => o.PerMessage, (o, v) => o with { PerMessage = v })
        .Field("add_header", Codecs.Bool, o => o.AddHeader, (o, v) => o with { AddHeader = v })
        .Field("add_header_whitelisted", Codecs.Bool, o => o.AddHeaderWhitelisted, (o, v) => o with { AddHeaderWhitelisted = v })
        .Field("spf_pools", Codecs.Bool, o => o.SpfPools, (o, v) => o with { SpfPools = v })
        .Field("only_suspicious", Codecs.Bool, o => o.OnlySuspicious, (o, v) => o with { OnlySuspicious = v })
        .Field("suspicious_names", new ListCodec<System.Text.RegularExpressions.Regex>(Codecs.HostNameRegex, flow: false), o => o.SuspiciousNames, (o, v) => o with { SuspiciousNames = v })
        .Check((b, mapping, path, o) =>
        {
            // A retry is only accepted between delay and retry_window after the first attempt.
            if (o.RetryWindow <= o.Delay)
                b.Error(mapping.KeyNamed("retry_window") ?? mapping.KeyNamed("delay") ?? (YNode)mapping,
                    $"{path}: retry_window ({Duration.Format(o.RetryWindow)}) must be longer than delay ({Duration.Format(o.Delay)})");
        })
        .Check((b, mapping, path, o) =>
        {
            // The auto-whitelist line is a variant of the header add_header turns on.
            if (o.AddHeaderWhitelisted && !o.AddHeader)
                b.Error(mapping.KeyNamed("add_header_whitelisted") ?? (YNode)mapping,
                    $"{path}: add_header_whitelisted needs add_header: true");
        });

    private static readonly Section<SpfOptions> Spf = new Section<SpfOptions>(() => new())
        .Field("reject_fail", Codecs.Bool, o => o.RejectFail, (o, v) => o with { RejectFail = v })
        .Field("add_header", Codecs.Bool, o => o.AddHeader, (o, v) => o with { AddHeader = v })
        .Field("exempt_recipients", new ListCodec<string>(Codecs.AddressPattern, flow: true), o => o.ExemptRecipients, (o, v) => o with { ExemptRecipients = v });

    private static readonly Section<DnsOptions> Dns = new Section<DnsOptions>(() => new())
        .Field("servers", new ListCodec<string>(Codecs.DnsServer, flow: true), o => o.Servers, (o, v) => o with { Servers = v })
        .Field("timeout", Codecs.PositiveDuration, o => o.Timeout, (o, v) => o with { Timeout = v });

    private static readonly Section<DnsListOptions> DnsList = new Section<DnsListOptions>(() => new() { Zone = "" }, flow: true)
        .Field("zone", Zone, o => o.Zone, (o, v) => o with { Zone = v })
        .Field("codes", new ListCodec<string>(ReturnCode, flow: true), o => o.Codes, (o, v) => o with { Codes = v })
        .Field("action", Codecs.Enum<DnsListAction>(), o => o.Action, (o, v) => o with { Action = v })
        .Require("zone");

    private static readonly Section<StatusOptions> Status = new Section<StatusOptions>(() => new())
        .Field("listen", Codecs.HostPort, o => o.Listen, (o, v) => o with { Listen = v })
        .Field("token", new NullableCodec<string>(Codecs.Secret), o => o.Token, (o, v) => o with { Token = v });

    private static readonly Section<LogScanSettings> LogScan = new Section<LogScanSettings>(() => new(), flow: true)
        .Field("threshold", Codecs.Integer(1, 1_000_000), o => o.Threshold, (o, v) => o with { Threshold = v })
        .Field("since", Codecs.PositiveDuration, o => o.Since, (o, v) => o with { Since = v })
        .Field("ban_for", Codecs.PositiveDuration, o => o.BanFor, (o, v) => o with { BanFor = v });

    /// <summary>The whole file.</summary>
    public static readonly Section<DaemonOptions> Root = new Section<DaemonOptions>(() => new())
        .Field("listen", Codecs.Listen, o => o.Listen, (o, v) => o with { Listen = v })
        .Field("socket", Socket, o => o.Socket, (o, v) => o with { Socket = v })
        .Field("user", new NullableCodec<string>(Codecs.AccountName), o => o.User, (o, v) => o with { User = v })
        .Field("database", Codecs.Database, o => o.Database, (o, v) => o with { Database = v })
        .Field("on_error", Codecs.Enum<OnError>(), o => o.OnError, (o, v) => o with { OnError = v })
        .Field("log", Log, o => o.Log, (o, v) => o with { Log = v })
        .Field("limits", Limits, o => o.Limits, (o, v) => o with { Limits = v })
        .Field("local_domains", new ListCodec<string>(LocalDomain, flow: false), o => o.LocalDomains, (o, v) => o with { LocalDomains = v })
        .Field(ModeKey.Key, ModeKey.Codec, o => o.Mode, (o, v) => o with { Mode = v })
        .FilterSection(FilterNames.Relay, new ModedSection<RelayOptions>(Relay), o => o.Relay, (o, v) => o with { Relay = v })
        .FilterSection(FilterNames.Recipients, new ModedSection<RecipientsOptions>(Recipients), o => o.Recipients, (o, v) => o with { Recipients = v })
        .FilterSection(FilterNames.Ban, new ModedList<BanRule>(new ListCodec<BanRule>(new BanRuleCodec(), flow: false, (rule, n, node) => rule with { Id = $"ban#{n} (line {node.Line})" }), "rules"),
            o => o.Ban, (o, v) => o with { Ban = v })
        .FilterSection(FilterNames.Greylist, new ModedSection<GreylistOptions>(Greylist), o => o.Greylist, (o, v) => o with { Greylist = v })
        .FilterSection(FilterNames.Spf, new ModedSection<SpfOptions>(Spf), o => o.Spf, (o, v) => o with { Spf = v })
        .Field("dns", Dns, o => o.Dns, (o, v) => o with { Dns = v })
        .FilterSection(FilterNames.DnsLists, new ModedList<DnsListOptions>(new ListCodec<DnsListOptions>(DnsList, flow: false, (list, n, node) => list with { Id = $"dns_lists#{n} (line {node.Line})" }), "lists"),
            o => o.DnsLists, (o, v) => o with { DnsLists = v })
        .Field("status", new NullableCodec<StatusOptions>(Status), o => o.Status, (o, v) => o with { Status = v })
        .Field("logscan", LogScan, o => o.LogScan, (o, v) => o with { LogScan = v })
        .Field("filters", new ListCodec<string>(FilterName, flow: true), o => o.Filters, (o, v) => o with { Filters = v })
        .Check((b, mapping, _, o) =>
        {
            // The aliases source (also by default) reads what sendmail.cf's AliasFile names: a
            // configured file that is missing is an error at its place in sendmail.cf.
            if (o.Recipients.RejectUnknown && o.Recipients.Sources.Contains(AliasesSource))
            {
                foreach (var error in SendmailAliasFiles.Find(o.Recipients.SendmailCf, SendmailAliasFiles.KnownPaths).Errors)
                    b.ErrorIn(error.File, error.Line, error.Column, $"{error.Message} (read for recipients.sources: aliases)");
            }
        })
        .Check((b, mapping, _, o) =>
        {
            // A recipient waits up to dns.timeout for its lookups inside one stage; the stage must outlast it.
            if (o.Dns.Timeout >= o.Limits.StageTimeout)
                b.Error(mapping.KeyNamed("dns") ?? mapping.KeyNamed("limits") ?? (YNode)mapping,
                    $"dns: timeout ({Duration.Format(o.Dns.Timeout)}) must be shorter than limits.stage_timeout ({Duration.Format(o.Limits.StageTimeout)})");
        });

    /// <summary>A built-in filter's section, named like the filter, with the <c>mode:</c> written in it kept in <see cref="MilterOptions.FilterModes"/>.</summary>
    private static Section<DaemonOptions> FilterSection<T>(this Section<DaemonOptions> root, string filter, Codec<Moded<T>> codec,
        Func<DaemonOptions, T> get, Func<DaemonOptions, T, DaemonOptions> set) =>
        root.Field(filter, codec,
            o => new Moded<T>(get(o), o.FilterModes.TryGetValue(filter, out var mode) ? mode : null),
            (o, v) => set(o, v.Value) with { FilterModes = WithMode(o.FilterModes, filter, v.Mode) });

    /// <summary><paramref name="modes"/> with <paramref name="filter"/>'s mode set, or left out when <paramref name="mode"/> is null.</summary>
    internal static IReadOnlyDictionary<string, FilterMode> WithMode(IReadOnlyDictionary<string, FilterMode> modes, string filter, FilterMode? mode)
    {
        if (mode is not { } m)
            return modes;
        return new Dictionary<string, FilterMode>(modes, StringComparer.Ordinal) { [filter] = m };
    }

    private static bool IsIPv4(string text, out uint value)
    {
        value = 0;
        if (!NetworkSyntax.TryParseAddress(text, out var address) || address.AddressFamily != System.Net.Sockets.AddressFamily.InterNetwork)
            return false;
        var bytes = address.GetAddressBytes();
        value = (uint)bytes[0] << 24 | (uint)bytes[1] << 16 | (uint)bytes[2] << 8 | bytes[3];
        return true;
    }
}
