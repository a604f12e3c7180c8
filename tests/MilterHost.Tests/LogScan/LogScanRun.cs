using System.CommandLine;
using System.IO.Compression;
using System.Net;
using System.Text.Json;
using Microsoft.Extensions.Time.Testing;
using MilterHost.Commands;
using MilterHost.Tools.LogScan;

namespace MilterHost.Tests.LogScan;

/// <summary>Fixture logs in a temp directory and the logscan command run over them, as an admin would.</summary>
internal sealed class LogScanRun : IDisposable
{
    private readonly TempDirectory _directory = new();

    public LogScanRun(DateTimeOffset now) => Time = new FakeTimeProvider(now);

    public FakeTimeProvider Time { get; }

    public InMemoryBanStore Store { get; } = new();

    public IReadOnlyList<IPNetwork> AllowClients { get; set; } = [IPNetwork.Parse("127.0.0.0/8"), IPNetwork.Parse("::1/128")];

    public IReadOnlySet<IPAddress> OwnAddresses { get; set; } = new HashSet<IPAddress>();

    public string? OwnAddressesUnreadable { get; set; }

    /// <summary>What the command reads without --log; none of them exists unless a test writes it.</summary>
    public IReadOnlyList<string> DefaultLogs { get; set; } = [];

    public string StatePath => _directory.Combine("logscan.state");

    /// <summary>The journalctl the command runs; unset: one that does not exist.</summary>
    public string Journalctl { get; set; } = "/nonexistent/journalctl";

    /// <summary>The config's <c>logscan:</c> section.</summary>
    public Milter.Filters.Configuration.LogScanSettings Settings { get; set; } = new();

    public string? ConfigPathSeen { get; private set; }

    public string Write(string name, params string[] lines)
    {
        var path = _directory.Combine(name);
        File.WriteAllText(path, string.Join('\n', lines) + "\n");
        return path;
    }

    public string WriteGzip(string name, params string[] lines)
    {
        var path = _directory.Combine(name);
        using var file = File.Create(path);
        using var gzip = new GZipStream(file, CompressionLevel.Fastest);
        gzip.Write(System.Text.Encoding.UTF8.GetBytes(string.Join('\n', lines) + "\n"));
        return path;
    }

    public string PathOf(string name) => _directory.Combine(name);

    public async Task<(int Exit, string Output, string Error)> RunAsync(params string[] args)
    {
        // FakeTimeProvider's local zone is UTC: classic timestamps read the same on any machine.
        var command = LogScanCommand.Create(Time, (config, _, _) =>
        {
            ConfigPathSeen = config;
            return Task.FromResult<LogScanEnvironment?>(new LogScanEnvironment(AllowClients, (use, _) => use(Store))
            {
                OwnAddresses = OwnAddresses,
                OwnAddressesUnreadable = OwnAddressesUnreadable,
                DefaultLogs = DefaultLogs,
                StatePath = StatePath,
                Journalctl = Journalctl,
                Settings = Settings,
            });
        });
        var root = new RootCommand("test") { command };
        var output = new StringWriter();
        var error = new StringWriter();
        var exit = await root.Parse(["logscan", .. args]).InvokeAsync(new InvocationConfiguration { Output = output, Error = error });
        return (exit, output.ToString(), error.ToString());
    }

    /// <summary>Runs with <c>--json</c>, expecting success and nothing on stderr.</summary>
    public async Task<JsonElement> JsonAsync(params string[] args)
    {
        var (exit, output, error) = await RunAsync([.. args, "--json"]);
        Assert.Equal("", error);
        Assert.Equal(0, exit);
        return JsonDocument.Parse(output).RootElement;
    }

    /// <summary>The offenders of a <c>--json</c> report: IP and event count.</summary>
    public static Dictionary<string, int> Counts(JsonElement root) =>
        root.GetProperty("offenders").EnumerateArray()
            .ToDictionary(o => o.GetProperty("ip").GetString()!, o => o.GetProperty("count").GetInt32());

    public void Dispose() => _directory.Dispose();
}
