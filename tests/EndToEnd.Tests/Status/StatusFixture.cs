using System.Diagnostics;
using System.Net;
using Milter.Filters.Stores;
using Milter.TestSupport;

namespace EndToEnd.Tests.Status;

/// <summary>
/// A real sendmail whose milter is the built milterhost daemon with <c>status.listen</c> on a free
/// loopback port, after known traffic sent with swaks: three banned senders, two relay attempts,
/// and greylisting (two new triplets, one early retry, one retry after the delay that is accepted).
/// Then one dynamic ban inside the refused network is added to the store.
/// </summary>
public sealed class StatusFixture : IAsyncLifetime
{
    /// <summary>The greylist delay: short, so the accepted retry comes soon.</summary>
    public static readonly TimeSpan Delay = TimeSpan.FromSeconds(4);

    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);
    private PrivateSendmail? _sendmail;
    private MilterHostProcess? _daemon;

    public string Folder { get; } = Directory.CreateTempSubdirectory("milterhost-status-").FullName;

    public string ConfigPath => Path.Combine(Folder, "milterhost.yaml");

    public int StatusPort { get; private set; }

    public Uri StatusUrl => new($"http://127.0.0.1:{StatusPort}/");

    /// <summary>From the first attempt of the accepted message to its retry, as the test measured it.</summary>
    public TimeSpan Waited { get; private set; }

    public MilterHostProcess Daemon => _daemon ?? throw new InvalidOperationException("not started");

    public async Task InitializeAsync()
    {
        _sendmail = await PrivateSendmail.CreateAsync();
        var socket = Path.Combine(_sendmail.Directory, "milter.sock");
        // The milter decides about relaying here; sendmail's own relay check would answer first otherwise.
        await _sendmail.StartAsync(new SendmailOptions { MilterSocket = "unix:" + socket, PromiscuousRelay = true });
        StatusPort = FreePort.Next();
        await File.WriteAllTextAsync(ConfigPath, $$"""
            listen: unix:{{socket}}
            socket: { mode: "0666" }
            user: root
            database: sqlite:{{Folder}}/milterhost.db
            log: { syslog: false }
            local_domains: [example.com]
            relay: { allow_clients: [] }
            recipients: { reject_unknown: false }
            ban:
              - sender: "*@spam.example"
            greylist:
              delay: {{(int)Delay.TotalSeconds}}s
              retry_window: 1h
            status: { listen: "127.0.0.1:{{StatusPort}}" }
            dns: { servers: ["127.0.0.1:9"] }
            """);
        _daemon = await MilterHostProcess.StartAsync(ConfigPath);
        await SendTrafficAsync(_sendmail.Port);
        await using var stores = await StoreFactory.OpenAsync($"sqlite:{Folder}/milterhost.db", TimeProvider.System);
        await stores.Bans.AddAsync(new DynamicBan(new IPNetwork(IPAddress.Parse("127.0.0.99"), 32), "seen in the status test", BanSource.Admin,
            DateTimeOffset.UtcNow, DateTimeOffset.UtcNow.AddDays(1)), default);
    }

    public async Task DisposeAsync()
    {
        if (_daemon is not null)
            await _daemon.DisposeAsync();
        if (_sendmail is not null)
            await _sendmail.DisposeAsync();
        Directory.Delete(Folder, recursive: true);
    }

    private async Task SendTrafficAsync(int port)
    {
        foreach (var client in (string[])["127.0.0.11", "127.0.0.12", "127.0.0.13"])
        {
            var banned = await SendAsync(port, client, "offers@spam.example", "alice@example.com");
            Expect(banned, "MAIL", 550);
        }
        foreach (var client in (string[])["127.0.0.21", "127.0.0.22"])
        {
            var relay = await SendAsync(port, client, "someone@elsewhere.example", "victim@foreign.example");
            Expect(relay, "RCPT", 550);
        }
        var first = Stopwatch.StartNew();
        Expect(await SendAsync(port, "127.0.0.31", "news@partner.example", "alice@example.com"), "DATA", 451);
        Expect(await SendAsync(port, "127.0.0.31", "billing@partner.example", "bob@example.com"), "DATA", 451);
        Expect(await SendAsync(port, "127.0.0.31", "billing@partner.example", "bob@example.com"), "DATA", 451);
        await Task.Delay(Delay + TimeSpan.FromSeconds(1.5) - first.Elapsed);
        var accepted = await SendAsync(port, "127.0.0.31", "news@partner.example", "alice@example.com");
        Waited = first.Elapsed;
        Assert.True(accepted.FinalReply?.Code == 250, accepted.Transcript);
    }

    private static Task<SwaksResult> SendAsync(int port, string client, string from, string to) =>
        Swaks.RunAsync(new SwaksRequest { Port = port, LocalInterface = client, From = from, To = [to], Timeout = Bound });

    private static void Expect(SwaksResult result, string verb, int code) =>
        Assert.True(result.ReplyTo(verb)?.Code == code, $"expected {code} to {verb}:\n{result.Transcript}");
}
