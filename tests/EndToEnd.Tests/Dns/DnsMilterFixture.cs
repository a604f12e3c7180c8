using System.Globalization;
using Milter.TestSupport;

namespace EndToEnd.Tests.Dns;

/// <summary>
/// A private DNS server, a real sendmail and the real milterhost binary wired to it, for the
/// DNS-driven greylisting tests. Clients play their part from their own 127.0.x.y address:
/// <list type="bullet">
/// <item>pool.example: SPF <c>ip4:127.0.2.0/24 ip4:127.0.3.0/24 -all</c> (a sender pool over two networks); nospf.example publishes no SPF.</item>
/// <item>127.0.4.2 is mx2.static.example (PTR and A agree); 127.0.4.1 is dyn-127-0-4-1.isp.example (agree, but looks dynamic).</item>
/// <item>127.0.5.1 is on the allow list list.dnswl.example; 127.0.5.2 on the block list bl.example (127.0.0.2).</item>
/// <item>fail.example: SPF <c>ip4:127.0.2.0/24 -all</c>; soft.example the same with <c>~all</c>.</item>
/// </list>
/// milterhost greylists with a 2 s delay and gives DNS 1 s; the subclass adds its greylist options.
/// </summary>
public abstract class DnsMilterFixture : IAsyncLifetime
{
    public static readonly TimeSpan Delay = TimeSpan.FromSeconds(2);
    public static readonly TimeSpan DnsTimeout = TimeSpan.FromSeconds(1);

    private PrivateDns? _dns;
    private PrivateSendmail? _sendmail;
    private MilterHostProcess? _milter;

    public PrivateDns Dns => _dns ?? throw new InvalidOperationException("not initialised");

    public PrivateSendmail Sendmail => _sendmail ?? throw new InvalidOperationException("not initialised");

    /// <summary>One message to bob@example.com from <paramref name="client"/> (a loopback address the DNS data names).</summary>
    public Task<SwaksResult> SendToBobAsync(string client, string sender) =>
        Swaks.RunAsync(new SwaksRequest { Port = Sendmail.Port, LocalInterface = client, From = sender, To = ["bob@example.com"] });

    public MilterHostProcess Milter => _milter ?? throw new InvalidOperationException("not initialised");

    /// <summary>Lines added to the <c>greylist:</c> section.</summary>
    protected abstract string GreylistOptions { get; }

    /// <summary>The <c>dns_lists:</c> section, if any.</summary>
    protected virtual string DnsLists => "";

    /// <summary>The <c>spf:</c> section, if any.</summary>
    protected virtual string Spf => "";

    /// <summary><c>dns.timeout</c>: <see cref="DnsTimeout"/> unless a fixture needs its answers even on a loaded machine.</summary>
    protected virtual TimeSpan LookupTimeout => DnsTimeout;

    public async Task InitializeAsync()
    {
        _dns = await PrivateDns.StartAsync(new PrivateDnsRecords()
            .Txt("pool.example", "v=spf1 ip4:127.0.2.0/24 ip4:127.0.3.0/24 -all")
            .Txt("nospf.example", "site-verification=4f2a")
            .Ptr("127.0.4.2", "mx2.static.example")
            .A("mx2.static.example", "127.0.4.2")
            .Ptr("127.0.4.1", "dyn-127-0-4-1.isp.example")
            .A("dyn-127-0-4-1.isp.example", "127.0.4.1")
            .Listed("list.dnswl.example", "127.0.5.1", "127.0.10.0")
            .Listed("bl.example", "127.0.5.2", "127.0.0.2")
            .Txt("fail.example", "v=spf1 ip4:127.0.2.0/24 -all")
            .Txt("soft.example", "v=spf1 ip4:127.0.2.0/24 ~all"));
        _sendmail = await PrivateSendmail.CreateAsync();
        var socket = Path.Combine(_sendmail.Directory, "milter.sock");
        await _sendmail.StartAsync(new SendmailOptions { MilterSocket = "unix:" + socket });
        var config = Path.Combine(_sendmail.Directory, "milterhost.yaml");
        await File.WriteAllTextAsync(config, string.Create(CultureInfo.InvariantCulture, $$"""
            listen: unix:{{socket}}
            socket: { mode: "0666" }
            user: root
            database: sqlite:{{Path.Combine(_sendmail.Directory, "milterhost.db")}}
            log: { level: info, syslog: false }
            local_domains: [example.com]
            relay:
              allow_clients: [127.0.0.1/32, "::1/128"]
            recipients:
              reject_unknown: false
            greylist:
              delay: {{Delay.TotalSeconds}}s
            {{Indent(GreylistOptions)}}
            dns: { servers: ["{{_dns.Server}}"], timeout: {{LookupTimeout.TotalSeconds}}s }
            {{DnsLists}}
            {{Spf}}
            """));
        _milter = await MilterHostProcess.StartAsync(config);
    }

    public async Task DisposeAsync()
    {
        if (_milter is not null)
            await _milter.DisposeAsync();
        if (_sendmail is not null)
            await _sendmail.DisposeAsync();
        if (_dns is not null)
            await _dns.DisposeAsync();
    }

    private static string Indent(string lines) => string.Join("\n", lines.Split('\n').Select(l => "  " + l.Trim()));
}

/// <summary>The default greylisting (spf_pools and per_message on) with an allow list and a block list.</summary>
public sealed class DefaultDnsFixture : DnsMilterFixture
{
    protected override string GreylistOptions => "spf_pools: true\nper_message: true";

    protected override string DnsLists => """
        dns_lists:
          - { zone: list.dnswl.example, action: skip_greylist }
          - { zone: bl.example, codes: [127.0.0.2-127.0.0.11], action: reject }
        """;
}

/// <summary>The default greylisting, SPF fails refused and the result prepended as Received-SPF.</summary>
public sealed class SpfRefusingFixture : DnsMilterFixture
{
    protected override string GreylistOptions => "spf_pools: true";

    protected override string Spf => "spf: { reject_fail: true, add_header: true }";

    // An SPF answer that comes too late never refuses: the refusal tests need it in time.
    protected override TimeSpan LookupTimeout => TimeSpan.FromSeconds(5);
}

/// <summary>Greylisting of suspicious clients only.</summary>
public sealed class OnlySuspiciousFixture : DnsMilterFixture
{
    protected override string GreylistOptions => "only_suspicious: true";
}

/// <summary>Greylisting for every client but those whose forward-confirmed name is in <c>greylist.skip.client_names</c>.</summary>
public sealed class SkipClientNamesFixture : DnsMilterFixture
{
    protected override string GreylistOptions => "skip: { client_names: [\"*.static.example\"] }";
}
