using System.Globalization;
using Milter.Protocol.Client;
using Milter.Protocol.Commands;

namespace Milter.Load;

/// <summary>
/// <c>milter-load idle --target T [--connections 1000] [--settle 2s] --pid PID [--label NAME] [--json]</c>: opens
/// the connections, each negotiated and past CONNECT and HELO like an SMTP client that has not
/// started its message, waits, reads the filter's resident memory, then QUITs them all.
/// </summary>
public static class IdleCommand
{
    public static async Task<int> ExecuteAsync(Arguments args, CancellationToken ct)
    {
        var targetText = args.Required("--target");
        var target = Arguments.ParseTarget(targetText);
        var count = (int)args.Number("--connections", 1000);
        var settle = args.Duration("--settle", TimeSpan.FromSeconds(2));
        var pid = (int)args.Number("--pid", 0);
        var json = args.Flag("--json");
        var label = args.Text("--label") ?? "";
        args.EnsureAllUsed();

        var before = pid > 0 ? ProcessMemory.Read(pid) : null;
        var clients = new List<MilterClient>(count);
        var traffic = new Traffic(Mix.Passed, count, "idle");
        try
        {
            // In batches: a burst of a thousand connects would only measure the listen backlog.
            foreach (var batch in Enumerable.Range(0, count).Chunk(50))
            {
                var opened = await Task.WhenAll(batch.Select(async n =>
                {
                    var plan = traffic.Session(n);
                    var client = await MilterClient.ConnectAsync(target, ct).ConfigureAwait(false);
                    await client.NegotiateAsync(null, ct).ConfigureAwait(false);
                    await client.SendMacrosAsync('C', [new("{client_addr}", plan.ClientAddress), new("{client_name}", plan.ClientName)], ct).ConfigureAwait(false);
                    await client.ConnectAsync(plan.ClientName, ConnectFamily.Inet, plan.ClientPort, plan.ClientAddress, ct).ConfigureAwait(false);
                    await client.SendMacrosAsync('H', [], ct).ConfigureAwait(false);
                    await client.HeloAsync(plan.Helo, ct).ConfigureAwait(false);
                    return client;
                })).ConfigureAwait(false);
                clients.AddRange(opened);
            }
            await Task.Delay(settle, TimeProvider.System, ct).ConfigureAwait(false);
            var during = pid > 0 ? ProcessMemory.Read(pid) : null;
            var report = new IdleReport(label, targetText, clients.Count, before?.RssKb / 1024.0, during?.RssKb / 1024.0, during?.PeakRssKb / 1024.0);
            Console.WriteLine(json ? Json.Write(report) : report.ToText());
            return 0;
        }
        finally
        {
            foreach (var client in clients)
            {
                try
                {
                    await client.QuitAsync(CancellationToken.None).ConfigureAwait(false);
                }
                catch (IOException)
                {
                }
                await client.DisposeAsync().ConfigureAwait(false);
            }
        }
    }
}

/// <summary>Memory of the filter with N idle sessions open.</summary>
public sealed record IdleReport(string Label, string Target, int Connections, double? RssBeforeMb, double? RssIdleMb, double? PeakRssMb)
{
    public string ToText() => string.Create(CultureInfo.InvariantCulture,
        $"{Connections} idle connections to {Target}: rss before {RssBeforeMb:F1} MB, with them open {RssIdleMb:F1} MB (peak {PeakRssMb:F1} MB)");
}
