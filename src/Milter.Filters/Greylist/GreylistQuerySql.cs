using System.Text;
using Milter.Filters.Stores;

namespace Milter.Filters.Greylist;

/// <summary>
/// The SQL of an admin listing (<see cref="GreylistQuery"/>) and the in-memory client test that goes
/// with it: each filter of the query adds its condition and sets its parameter.
/// </summary>
internal static class GreylistQuerySql
{
    public static (string Sql, TripletQueryArgs Args) Triplets(GreylistQuery query, DateTimeOffset now)
    {
        var sql = new StringBuilder(StoreSql.ListTriplets);
        var args = new TripletQueryArgs(now.ToUnixTimeSeconds(), null, null, null, null, null);
        if (query.State is { } state)
        {
            sql.Append(StoreSql.FilterState);
            args = args with { State = (long)state };
        }
        if (query.Sender is { } sender && sender.StartsWith('@'))
        {
            sql.Append(StoreSql.FilterSenderDomain);
            args = args with { SenderDomain = SenderDomainOf(sender) };
        }
        else if (query.Sender is { } address)
        {
            var normalized = EnvelopeAddress.NormalizeSender(address);
            sql.Append(StoreSql.FilterSender);
            args = args with { SenderDomain = EnvelopeAddress.DomainOf(normalized), Sender = normalized };
        }
        if (query.Recipient is { } recipient)
        {
            sql.Append(StoreSql.FilterRecipient);
            args = args with { Recipient = EnvelopeAddress.NormalizeRecipient(recipient) };
        }
        args = args with { Limit = AppendClientAndOrder(query, sql, StoreSql.OrderTriplets) };
        return (sql.ToString(), args);
    }

    public static (string Sql, AwlQueryArgs Args) AutoWhitelist(GreylistQuery query, DateTimeOffset now)
    {
        var sql = new StringBuilder(StoreSql.ListAwl);
        var args = new AwlQueryArgs(now.ToUnixTimeSeconds(), null, null, null);
        if (query.MinPasses > 0)
        {
            sql.Append(StoreSql.FilterPasses);
            args = args with { Passes = query.MinPasses };
        }
        if (query.Sender is { } sender)
        {
            sql.Append(StoreSql.FilterSenderDomain);
            args = args with { SenderDomain = SenderDomainOf(sender) };
        }
        args = args with { Limit = AppendClientAndOrder(query, sql, StoreSql.OrderAwl) };
        return (sql.ToString(), args);
    }

    /// <summary>The query's client network test, run in memory on the rows the SQL returned.</summary>
    public static bool MatchesClient(GreylistQuery query, string client) =>
        query.Client is not { } wanted
        || (ClientKey.TryGetNetwork(client, out var network) && IPNetworks.Overlaps(network, IPNetworks.Normalize(wanted)));

    // The CIDR test runs in memory on the rows the other filters let through, so the SQL LIMIT applies only
    // without it. Returns the value of @Limit, or null when the SQL has none.
    private static long? AppendClientAndOrder(GreylistQuery query, StringBuilder sql, string order)
    {
        if (query.Client is not null)
            sql.Append(StoreSql.FilterNetworkClients);
        sql.Append(order);
        if (query.Client is not null || query.Limit == int.MaxValue)
            return null;
        sql.Append(StoreSql.Limit);
        return query.Limit;
    }

    private static string SenderDomainOf(string sender) =>
        sender.StartsWith('@') ? sender[1..].Trim().TrimEnd('.').ToLowerInvariant() : EnvelopeAddress.DomainOf(EnvelopeAddress.NormalizeSender(sender));
}
