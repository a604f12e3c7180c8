using System.Text;

namespace EndToEnd.Tests.Daemon;

/// <summary>
/// The YAML a daemon test runs with. Defaults: a Unix socket, SQLite database and console log in
/// the test's sandbox, <c>user: root</c>, no greylisting, no unknown-recipient check. Values are
/// YAML snippets written as they are, so a test can state exactly the line it cares about.
/// </summary>
public sealed record DaemonConfig
{
    /// <summary><c>listen:</c>; null: <c>unix:SANDBOX/milter.sock</c>.</summary>
    public string? Listen { get; init; }

    public string Socket { get; init; } = "{ mode: \"0666\" }";

    /// <summary><c>user:</c>; null leaves the key out.</summary>
    public string? User { get; init; } = "root";

    /// <summary><c>database:</c>; null: <c>sqlite:SANDBOX/milterhost.db</c>.</summary>
    public string? Database { get; init; }

    public string OnError { get; init; } = "tempfail";

    public string Log { get; init; } = "{ level: debug, syslog: false }";

    public string Limits { get; init; } = "{ shutdown_grace: 5s }";

    public string LocalDomains { get; init; } = "[example.com]";

    public string Relay { get; init; } = "{ allow_clients: [127.0.0.0/8, \"::1/128\"] }";

    public string Greylist { get; init; } = "{ enabled: false }";

    public string Recipients { get; init; } = "{ reject_unknown: false }";

    /// <summary>Ban rules, each a YAML flow mapping such as <c>{ client: 127.0.0.9 }</c>.</summary>
    public IReadOnlyList<string> Ban { get; init; } = [];

    /// <summary>Further top-level lines, written as they are.</summary>
    public string Extra { get; init; } = "";

    public string Render(string sandbox)
    {
        var yaml = new StringBuilder()
            .AppendLine($"listen: {Listen ?? "unix:" + Path.Combine(sandbox, "milter.sock")}")
            .AppendLine($"socket: {Socket}");
        if (User is not null)
            yaml.AppendLine($"user: {User}");
        yaml.AppendLine($"database: {Database ?? "sqlite:" + Path.Combine(sandbox, "milterhost.db")}")
            .AppendLine($"on_error: {OnError}")
            .AppendLine($"log: {Log}")
            .AppendLine($"limits: {Limits}")
            .AppendLine($"local_domains: {LocalDomains}")
            .AppendLine($"relay: {Relay}")
            .AppendLine($"greylist: {Greylist}")
            .AppendLine($"recipients: {Recipients}")
            // Nothing here may ask a DNS server outside: a closed loopback port answers nothing, fast.
            .AppendLine("dns: { servers: [\"127.0.0.1:9\"], timeout: 500ms }");
        if (Ban.Count > 0)
        {
            yaml.AppendLine("ban:");
            foreach (var rule in Ban)
                yaml.AppendLine($"  - {rule}");
        }
        if (Extra.Length > 0)
            yaml.AppendLine(Extra);
        return yaml.ToString();
    }
}
