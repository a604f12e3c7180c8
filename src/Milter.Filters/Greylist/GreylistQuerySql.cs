using System.Text;
using Milter.Filters.Stores;

namespace Milter.Filters.Greylist;

/// <summary>
/// The SQL of an admin listing (<see cref="GreylistQuery"/>) and the in-memory client test that goes
/// with it: each filter of the query adds its condition and parameter.
/// </summary>
internal static class GreylistQuerySql
{
    public static (string Sql, List<(string Name, object? Value)> Parameters) Triplets(GreylistQuery query, DateTimeOffset now)
    {
        var sql = new StringBuilder(StoreSql.ListTriplets);
        var parameters = new List<(string, object?)> { ("@now", now.ToUnixTimeSeconds()) };
        if (query.State is { } state)
        {
            sql.Append(StoreSql.FilterState);
            parameters.Add(("@state", (long)state));
        }
        AppendSender(query, sql, parameters);
        if (query.Recipient is { } recipient)
        {
            sql.Append(StoreSql.FilterRecipient);
            parameters.Add(("@recipient", EnvelopeAddress.NormalizeRecipient(recipient)));
        }
        AppendClientAndOrder(query, sql, parameters, StoreSql.OrderTriplets);
        return (sql.ToString(), parameters);
    }

    public static (string Sql, List<(string Name, object? Value)> Parameters) AutoWhitelist(GreylistQuery query, DateTimeOffset now)
    {
        var sql = new StringBuilder(StoreSql.ListAwl);
        var list = new List<(string, object?)> { ("@now", now.ToUnixTimeSeconds()) };
        if (query.MinPasses > 0)
        {
            sql.Append(StoreSql.FilterPasses);
            list.Add(("@passes", (long)query.MinPasses));
        }
        if (query.Sender is { } sender)
        {
            sql.Append(StoreSql.FilterSenderDomain);
            list.Add(("@sender_domain", SenderDomainOf(sender)));
        }
        AppendClientAndOrder(query, sql, list, StoreSql.OrderAwl);
        return (sql.ToString(), list);
    }

    /// <summary>The query's client network test, run in memory on the rows the SQL returned.</summary>
    public static bool MatchesClient(GreylistQuery query, string client) =>
        query.Client is not { } wanted
        || (ClientKey.TryGetNetwork(client, out var network) && IPNetworks.Overlaps(network, IPNetworks.Normalize(wanted)));

    private static void AppendSender(GreylistQuery query, StringBuilder sql, List<(string, object?)> parameters)
    {
        if (query.Sender is not { } sender)
            return;
        if (sender.StartsWith('@'))
        {
            sql.Append(StoreSql.FilterSenderDomain);
            parameters.Add(("@sender_domain", SenderDomainOf(sender)));
            return;
        }
        var normalized = EnvelopeAddress.NormalizeSender(sender);
        sql.Append(StoreSql.FilterSender);
        parameters.Add(("@sender_domain", EnvelopeAddress.DomainOf(normalized)));
        parameters.Add(("@sender", normalized));
    }

    // The CIDR test runs in memory on the rows the other filters let through, so the SQL LIMIT applies only without it.
    private static void AppendClientAndOrder(GreylistQuery query, StringBuilder sql, List<(string, object?)> parameters, string order)
    {
        if (query.Client is not null)
            sql.Append(StoreSql.FilterNetworkClients);
        sql.Append(order);
        if (query.Client is null && query.Limit < int.MaxValue)
        {
            sql.Append(StoreSql.Limit);
            parameters.Add(("@limit", (long)query.Limit));
        }
    }

    private static string SenderDomainOf(string sender) =>
        sender.StartsWith('@') ? sender[1..].Trim().TrimEnd('.').ToLowerInvariant() : EnvelopeAddress.DomainOf(EnvelopeAddress.NormalizeSender(sender));
}
