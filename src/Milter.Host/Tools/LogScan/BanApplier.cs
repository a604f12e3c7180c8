using System.Net.Sockets;
using System.Net;
using Milter.Filters.Stores;

namespace MilterHost.Tools.LogScan;

/// <summary>How <c>--apply</c> went: bans added, and offenders an active ban already covered.</summary>
public sealed record BanOutcome(IReadOnlyList<IPAddress> Added, IReadOnlyList<IPAddress> AlreadyBanned);

/// <summary>Adds offenders to the dynamic ban list, as single-address networks.</summary>
public static class BanApplier
{
    /// <summary>
    /// An offender already covered by an active ban (its own or a wider network's) is left alone, so a
    /// second run over the same log adds nothing and does not stretch bans that are running.
    /// </summary>
    public static async Task<BanOutcome> ApplyAsync(IDynamicBanStore store, IEnumerable<Offender> offenders, TimeSpan banFor,
        DateTimeOffset now, CancellationToken cancellationToken)
    {
        var added = new List<IPAddress>();
        var existing = new List<IPAddress>();
        foreach (var offender in offenders)
        {
            var address = offender.Activity.Address;
            if (await store.FindAsync(address, now, cancellationToken) is not null)
            {
                existing.Add(address);
                continue;
            }
            var network = new IPNetwork(address, address.AddressFamily == AddressFamily.InterNetwork ? 32 : 128);
            var ban = new DynamicBan(network, offender.Reason, BanSource.Logscan, now, now + banFor);
            if (await store.AddAsync(ban, cancellationToken))
                added.Add(address);
            else
                existing.Add(address);
        }
        return new BanOutcome(added, existing);
    }
}
