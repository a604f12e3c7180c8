using System.Net.Sockets;
using MilterHost.Configuration;

namespace MilterHost.Tools.LogScan;

/// <summary>The firewall a <c>--firewall</c> script is written for.</summary>
public enum FirewallKind { Nft, Iptables }

/// <summary>
/// Shell lines that would block the offenders from port 25. Printed for the admin to read and run;
/// milterhost never runs them.
/// </summary>
public static class FirewallScript
{
    /// <summary>nft set names: one per address family, as a set holds one type.</summary>
    public const string NftSet4 = "milterhost_ban", NftSet6 = "milterhost_ban6";

    public static IReadOnlyList<string> Lines(FirewallKind kind, IEnumerable<Offender> offenders, TimeSpan banFor) =>
        kind == FirewallKind.Nft ? Nft(offenders, banFor) : Iptables(offenders, banFor);

    private static List<string> Nft(IEnumerable<Offender> offenders, TimeSpan banFor)
    {
        var timeout = Duration.Format(banFor);
        var lines = new List<string>
        {
            "# once, to create the sets and the rule that drops their members on port 25:",
            "#   nft add table inet filter",
            "#   nft add chain inet filter input '{ type filter hook input priority 0; }'",
            $"#   nft add set inet filter {NftSet4} '{{ type ipv4_addr; flags timeout; }}'",
            $"#   nft add set inet filter {NftSet6} '{{ type ipv6_addr; flags timeout; }}'",
            $"#   nft add rule inet filter input tcp dport 25 ip saddr @{NftSet4} drop",
            $"#   nft add rule inet filter input tcp dport 25 ip6 saddr @{NftSet6} drop",
        };
        foreach (var offender in offenders)
        {
            var address = offender.Activity.Address;
            var set = address.AddressFamily == AddressFamily.InterNetwork ? NftSet4 : NftSet6;
            lines.Add($"nft add element inet filter {set} {{ {address} timeout {timeout} }}");
        }
        return lines;
    }

    private static List<string> Iptables(IEnumerable<Offender> offenders, TimeSpan banFor)
    {
        var lines = new List<string>
        {
            $"# iptables rules do not expire: remove each with -D instead of -I after {Duration.Format(banFor)}.",
        };
        foreach (var offender in offenders)
        {
            var address = offender.Activity.Address;
            var tool = address.AddressFamily == AddressFamily.InterNetwork ? "iptables" : "ip6tables";
            lines.Add($"{tool} -I INPUT -s {address} -p tcp --dport 25 -j DROP");
        }
        return lines;
    }
}
