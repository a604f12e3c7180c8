using System.Net;

namespace MilterHost.Tools.LogScan;

/// <summary>Reads the maillogs and picks the offenders: the heart of <c>milterhost logscan</c>.</summary>
public sealed class OffenderScan(TimeProvider timeProvider)
{
    /// <summary>How the journal is named among the files read.</summary>
    public const string JournalSource = "journal";

    /// <param name="state">Where the last run stopped; null: read every source whole (within <see cref="LogScanOptions.Since"/>).</param>
    public async Task<LogScanReport> RunAsync(LogScanOptions options, LogScanState? state, CancellationToken cancellationToken)
    {
        var now = timeProvider.GetUtcNow();
        DateTimeOffset? since = options.Since is { } window ? now - window : null;
        var scanner = new MaillogScanner(new SyslogLineParser(now, options.Zone), since, options.Limits);
        var errors = new List<string>();
        var warnings = new List<string>();
        var positions = new Dictionary<string, FilePosition>(state?.Files ?? [], StringComparer.Ordinal);
        var cursor = state?.JournalCursor;
        var files = new List<string>(options.Logs);
        if (options.Journal)
        {
            files.Insert(0, JournalSource);
            try
            {
                (cursor, var warning) = await JournalReader.ReadAsync(options.Journalctl, cursor, since, scanner, options.Limits.MaxLineLength, cancellationToken);
                if (warning.Length > 0)
                    warnings.Add($"journalctl: {warning}");
                // A first read (no cursor) that finds nothing is a misconfiguration more often than a quiet server.
                else if (scanner.Lines == 0 && state?.JournalCursor is null)
                    warnings.Add("the journal has no entries of sendmail.service or milterhost.service"
                        + (since is { } from ? $" since {LogScanTextWriter.Time(from)}" : "")
                        + ": if sendmail logs to a file, name it with --log; a user outside the systemd-journal and adm groups sees only their own entries");
            }
            catch (IOException e)
            {
                errors.Add($"{JournalSource}: {e.Message}");
            }
        }
        foreach (var path in options.Logs)
        {
            try
            {
                var from = state?.Files.GetValueOrDefault(path);
                if (await LogFileReader.ReadAsync(path, from, state is not null, scanner, options.Limits.MaxLineLength, cancellationToken) is { } reached)
                    positions[path] = reached;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException)
            {
                errors.Add($"{path}: {e.Message}");
            }
        }
        var scan = scanner.Finish();

        var offenders = new List<Offender>();
        var exempt = new List<ExemptClient>();
        foreach (var client in scan.Clients.Where(c => c.Count >= options.Threshold)
                     .OrderByDescending(c => c.Count).ThenBy(c => c.Address, AddressOrder.Instance))
        {
            var why = ExemptionOf(client.Address, options);
            if (why is null)
                offenders.Add(new Offender(client));
            else
                exempt.Add(new ExemptClient(client, why));
        }
        return new LogScanReport
        {
            Scan = scan,
            Now = now,
            Since = since,
            Threshold = options.Threshold,
            Offenders = offenders,
            Exempt = exempt,
            Files = files,
            FileErrors = errors,
            Warnings = warnings,
            State = state is null ? null : new LogScanState { Files = positions, JournalCursor = cursor },
        };
    }

    private static string? ExemptionOf(IPAddress address, LogScanOptions options)
    {
        foreach (var network in options.Ignore)
        {
            if (network.Contains(address))
                return $"--ignore {network}";
        }
        foreach (var network in options.AllowClients)
        {
            if (network.Contains(address))
                return $"relay.allow_clients {network}";
        }
        if (IPAddress.IsLoopback(address))
            return "loopback";
        if (options.OwnAddresses.Contains(address))
            return "an address of this host";
        if (address.Equals(IPAddress.Any) || address.Equals(IPAddress.IPv6Any) || address.Equals(IPAddress.Broadcast)
            || address.IsIPv6Multicast || (address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork && address.GetAddressBytes()[0] >= 224))
            return "not a unicast address";
        return null;
    }

    /// <summary>IPv4 before IPv6, then by bytes: a stable order for equal counts.</summary>
    private sealed class AddressOrder : IComparer<IPAddress>
    {
        public static readonly AddressOrder Instance = new();

        public int Compare(IPAddress? x, IPAddress? y)
        {
            var a = x!.GetAddressBytes();
            var b = y!.GetAddressBytes();
            return a.Length != b.Length ? a.Length.CompareTo(b.Length) : a.AsSpan().SequenceCompareTo(b);
        }
    }
}
