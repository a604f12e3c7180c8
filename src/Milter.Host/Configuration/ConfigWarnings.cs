using System.Net;

namespace MilterHost.Configuration;

/// <summary>
/// Settings that are valid but risky: the loader's own (relay control off), relay control in monitor
/// mode, an spf section the filter list leaves out, and those that open the
/// daemon to other hosts without a password. check-config prints them on stderr (and still exits
/// 0), the daemon logs them at start: one list for both. Each line reads
/// <c>file:line:column: warning: message</c>.
/// </summary>
public static class ConfigWarnings
{
    public static IReadOnlyList<string> Of(LoadedConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        var warnings = config.Warnings.Select(w => w.ToString()).ToList();
        if (config.Options.FilterModes.GetValueOrDefault(Milter.Filters.FilterNames.Relay) == Milter.Filters.FilterMode.Monitor
            && config.Options.Relay.Enabled && config.Options.Filters.Contains(Milter.Filters.FilterNames.Relay))
        {
            warnings.Add($"{config.Describe("relay.mode")}: warning: relay.mode: monitor logs relaying it would refuse but refuses none:"
                + " while it is set, this server relays for anyone sendmail lets through. Remove it to keep relay control enforced"
                + " (the top-level mode: monitor leaves relay control enforced)");
        }
        if (config.Options.LocalDomains.Count == 0 && config.Options.Relay.Enabled && config.Options.Filters.Contains(Milter.Filters.FilterNames.Relay))
        {
            warnings.Add($"{config.Describe("local_domains")}: warning: local_domains is empty: every recipient counts as another domain's, so the relay filter refuses all mail"
                + " from clients outside relay.allow_clients (inbound mail included). List the domains this server takes mail for,"
                + " e.g. local_domains: [file:/etc/mail/local-host-names]");
        }
        if (config.Options.Spf.IsOn && !config.Options.Filters.Contains(Milter.Filters.FilterNames.Spf))
        {
            warnings.Add($"{config.Describe("spf")}: warning: spf: reject_fail or add_header is set, but filters: does not list spf,"
                + " so no SPF result refuses or marks anything. Add spf to filters: (before greylist)");
        }
        var listen = config.Listen;
        if (!listen.IsLocal)
        {
            warnings.Add($"{config.Describe("listen")}: warning: listen: {listen} accepts milter connections from "
                + (listen.IsWildcard ? "every interface" : "other hosts")
                + "; the milter protocol has no authentication, so anyone who reaches the port can pre-pass greylist triplets or trigger bypass bans."
                + " Firewall the port to the MTA's address, or listen on a Unix socket or loopback");
        }
        if (config.Options.Status is { Token: null } status && !IsLoopback(status.Listen))
        {
            warnings.Add($"{config.Describe("status.listen")}: warning: status.listen {status.Listen} is not a loopback address and status.token is not set:"
                + " anyone who reaches the port reads the status page, the metrics and the summary (client networks, sender domains)."
                + " Set status.token, or listen on 127.0.0.1");
        }
        return warnings;
    }

    // Without a lookup: a loopback literal or localhost; another name may resolve anywhere.
    private static bool IsLoopback(string hostPort) =>
        NetworkSyntax.TryParseHostPort(hostPort.Trim(), portOptional: false, allowNames: true, out var host, out _)
        && (host.Equals("localhost", StringComparison.OrdinalIgnoreCase) || (IPAddress.TryParse(host, out var ip) && IPAddress.IsLoopback(ip)));
}
