using Milter.Filters.Stores;

namespace MilterHost.Tools.Admin;

/// <summary>The table and JSON of <c>ban list</c>.</summary>
internal static class BanOutput
{
    public static void WriteList(TextWriter output, IReadOnlyList<DynamicBan> bans, TimeZoneInfo zone)
    {
        if (bans.Count == 0)
        {
            output.WriteLine("No active bans.");
            return;
        }
        var table = new TextTable("NETWORK", "SOURCE", "CREATED", "EXPIRES", "REASON");
        foreach (var ban in bans)
            table.Add(ban.Network.ToString(), SourceName(ban.Source), TimeText.Format(ban.Created, zone), TimeText.Format(ban.Expires, zone), ban.Reason);
        table.WriteTo(output);
    }

    /// <summary><c>{"bans":[{"network","source":"admin"|"logscan"|"bypass","reason","created","expires"}]}</c>, newest first; times ISO 8601 UTC.</summary>
    public static string ListJson(IReadOnlyList<DynamicBan> bans) => JsonText.Write(json =>
    {
        json.WriteStartObject();
        json.WriteStartArray("bans");
        foreach (var ban in bans)
        {
            json.WriteStartObject();
            json.WriteString("network", ban.Network.ToString());
            json.WriteString("source", SourceName(ban.Source));
            json.WriteString("reason", ban.Reason);
            json.WriteTime("created", ban.Created);
            json.WriteTime("expires", ban.Expires);
            json.WriteEndObject();
        }
        json.WriteEndArray();
        json.WriteEndObject();
    });

    public static string SourceName(BanSource source) => source.ToString().ToLowerInvariant();
}
