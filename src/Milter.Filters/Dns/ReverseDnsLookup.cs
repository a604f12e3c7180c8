using System.Net;
using System.Net.Sockets;
using ARSoft.Tools.Net;
using ARSoft.Tools.Net.Dns;

namespace Milter.Filters.Dns;

/// <summary>Looks up a client's <see cref="ReverseDns"/>: the PTR records, then the forward records of each name at once.</summary>
public sealed class ReverseDnsLookup
{
    // RFC 7208 5.5 stops at 10 PTR names too: more is a way to make us do work, not a real host.
    private const int MaxNames = 10;

    private readonly IDnsResolver _resolver;

    public ReverseDnsLookup(IDnsResolver resolver)
    {
        ArgumentNullException.ThrowIfNull(resolver);
        _resolver = resolver;
    }

    /// <exception cref="DnsLookupException">The PTR lookup failed (a failed forward lookup only leaves that name unconfirmed).</exception>
    public async Task<ReverseDns> LookupAsync(IPAddress client, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(client);
        if (client.IsIPv4MappedToIPv6)
            client = client.MapToIPv4();
        var pointers = await _resolver.ResolveAsync<PtrRecord>(DomainName.Parse(ReversedAddress.PointerName(client)), RecordType.Ptr,
            RecordClass.INet, cancellationToken).ConfigureAwait(false);
        var names = pointers.Select(p => p.PointerDomainName).DistinctBy(n => n.ToString(false).ToLowerInvariant()).Take(MaxNames).ToList();
        var confirmations = names.Select(name => ConfirmsAsync(name, client, cancellationToken)).ToList();
        var confirmed = await Task.WhenAll(confirmations).ConfigureAwait(false);
        var texts = names.Select(n => n.ToString(false).ToLowerInvariant()).ToList();
        var first = Array.IndexOf(confirmed, true);
        return new ReverseDns(texts, first >= 0 ? texts[first] : null);
    }

    private async Task<bool> ConfirmsAsync(DomainName name, IPAddress client, CancellationToken cancellationToken)
    {
        try
        {
            if (client.AddressFamily == AddressFamily.InterNetwork)
            {
                var a = await _resolver.ResolveAsync<ARecord>(name, RecordType.A, RecordClass.INet, cancellationToken).ConfigureAwait(false);
                return a.Any(r => r.Address.Equals(client));
            }
            var aaaa = await _resolver.ResolveAsync<AaaaRecord>(name, RecordType.Aaaa, RecordClass.INet, cancellationToken).ConfigureAwait(false);
            return aaaa.Any(r => r.Address.Equals(client));
        }
        catch (DnsLookupException)
        {
            return false;
        }
    }
}
