using System.Globalization;
using Milter.Filters.Greylist;

namespace MilterHost.Tools.Admin;

/// <summary>The tables and JSON of <c>greylist list</c> and <c>greylist stats</c>.</summary>
internal static class GreylistOutput
{
    public static void WriteList(TextWriter output, GreylistListing listing, TimeZoneInfo zone)
    {
        var written = false;
        if (listing.Triplets is { } triplets)
        {
            Section(output, "Triplets", triplets.Count, listing.Limit, ref written);
            var table = new TextTable("STATE", "CLIENT", "SENDER", "RECIPIENT", "FIRST SEEN", "LAST SEEN", "EXPIRES", "DEFERRALS").AlignRight(7);
            foreach (var t in triplets)
            {
                table.Add(StateName(t.State), t.Triplet.Client, $"<{t.Triplet.Sender}>", $"<{t.Triplet.Recipient}>",
                    TimeText.Format(t.FirstSeen, zone), TimeText.Format(t.LastSeen, zone), TimeText.Format(t.Expires, zone), Number(t.Deferrals));
            }
            if (triplets.Count > 0)
                table.WriteTo(output);
        }
        if (listing.AutoWhitelist is { } awl)
        {
            Section(output, "Auto-whitelist", awl.Count, listing.Limit, ref written);
            var table = new TextTable("CLIENT", "SENDER DOMAIN", "PASSES", "WHITELISTED", "FIRST SEEN", "LAST SEEN", "EXPIRES").AlignRight(2);
            foreach (var a in awl)
            {
                table.Add(a.Client, a.SenderDomain.Length == 0 ? "-" : a.SenderDomain, Number(a.Passes), listing.IsWhitelisted(a) ? "yes" : "no",
                    TimeText.Format(a.FirstSeen, zone), TimeText.Format(a.LastSeen, zone), TimeText.Format(a.Expires, zone));
            }
            if (awl.Count > 0)
                table.WriteTo(output);
        }
        if (listing.Allowed is { } allowed)
        {
            Section(output, "Allowed by the admin", allowed.Count, int.MaxValue, ref written);
            var table = new TextTable("KIND", "VALUE", "CREATED", "EXPIRES", "REASON");
            foreach (var e in allowed)
            {
                table.Add(AllowTarget.Describe(e.Kind), e.Value, TimeText.Format(e.Created, zone), TimeText.Format(e.Expires, zone, "never"), e.Reason);
            }
            if (allowed.Count > 0)
                table.WriteTo(output);
        }
    }

    /// <summary>
    /// <c>{"triplets":[{"state","client","sender","recipient","firstSeen","lastSeen","expires","deferrals"}],
    /// "autoWhitelist":[{"client","senderDomain","passes","whitelisted","firstSeen","lastSeen","expires"}],
    /// "allowed":[{"kind":"network"|"sender-domain","value","reason","created","expires"}],"truncated"}</c>;
    /// sections the filters leave out are absent. Times are ISO 8601 UTC.
    /// </summary>
    public static string ListJson(GreylistListing listing) => JsonText.Write(json =>
    {
        json.WriteStartObject();
        if (listing.Triplets is { } triplets)
        {
            json.WriteStartArray("triplets");
            foreach (var t in triplets)
            {
                json.WriteStartObject();
                json.WriteString("state", StateName(t.State));
                json.WriteString("client", t.Triplet.Client);
                json.WriteString("sender", t.Triplet.Sender);
                json.WriteString("recipient", t.Triplet.Recipient);
                json.WriteTime("firstSeen", t.FirstSeen);
                json.WriteTime("lastSeen", t.LastSeen);
                json.WriteTime("expires", t.Expires);
                json.WriteNumber("deferrals", t.Deferrals);
                json.WriteEndObject();
            }
            json.WriteEndArray();
        }
        if (listing.AutoWhitelist is { } awl)
        {
            json.WriteStartArray("autoWhitelist");
            foreach (var a in awl)
            {
                json.WriteStartObject();
                json.WriteString("client", a.Client);
                json.WriteString("senderDomain", a.SenderDomain);
                json.WriteNumber("passes", a.Passes);
                json.WriteBoolean("whitelisted", listing.IsWhitelisted(a));
                json.WriteTime("firstSeen", a.FirstSeen);
                json.WriteTime("lastSeen", a.LastSeen);
                json.WriteTime("expires", a.Expires);
                json.WriteEndObject();
            }
            json.WriteEndArray();
        }
        if (listing.Allowed is { } allowed)
        {
            json.WriteStartArray("allowed");
            foreach (var e in allowed)
            {
                json.WriteStartObject();
                json.WriteString("kind", e.Kind == GreylistAllowKind.Network ? "network" : "sender-domain");
                json.WriteString("value", e.Value);
                json.WriteString("reason", e.Reason);
                json.WriteTime("created", e.Created);
                json.WriteTime("expires", e.Expires);
                json.WriteEndObject();
            }
            json.WriteEndArray();
        }
        json.WriteBoolean("truncated", listing.Truncated);
        json.WriteEndObject();
    });

    public static void WriteStats(TextWriter output, GreylistStats stats, IReadOnlyList<PendingClient> top, int whitelistAfter, TimeZoneInfo zone)
    {
        (string Label, string Value)[] counts =
        [
            ("Pending triplets", Number(stats.Pending)),
            ("Passed triplets", Number(stats.Passed)),
            ("Pass rate", PassRate(stats) is { } rate ? rate.ToString("P1", CultureInfo.InvariantCulture) : "-"),
            ("Auto-whitelist entries", Number(stats.AutoWhitelistEntries)),
            (whitelistAfter > 0 ? $"Auto-whitelisted ({whitelistAfter}+ passes)" : "Auto-whitelisted (off)", Number(stats.Whitelisted)),
            ("Allowed by the admin", Number(stats.Allowed)),
            ("Expired, not yet swept", Number(stats.Expired)),
        ];
        var labelWidth = counts.Max(c => c.Label.Length) + 1;
        var valueWidth = counts.Max(c => c.Value.Length);
        foreach (var (label, value) in counts)
            output.WriteLine((label + ":").PadRight(labelWidth) + "  " + value.PadLeft(valueWidth));
        output.WriteLine();
        if (top.Count == 0)
        {
            output.WriteLine("Top pending clients: none.");
            return;
        }
        output.WriteLine("Top pending clients:");
        var table = new TextTable("CLIENT", "PENDING", "LAST SEEN").AlignRight(1);
        foreach (var client in top)
            table.Add(client.Client, Number(client.Pending), TimeText.Format(client.LastSeen, zone));
        table.WriteTo(output);
    }

    /// <summary><c>{"pending","passed","passRate"(0..1 or null),"autoWhitelistEntries","whitelisted","whitelistAfter","allowed","expired","topPending":[{"client","pending","lastSeen"}]}</c>.</summary>
    public static string StatsJson(GreylistStats stats, IReadOnlyList<PendingClient> top, int whitelistAfter) => JsonText.Write(json =>
    {
        json.WriteStartObject();
        json.WriteNumber("pending", stats.Pending);
        json.WriteNumber("passed", stats.Passed);
        if (PassRate(stats) is { } rate)
            json.WriteNumber("passRate", Math.Round(rate, 4));
        else
            json.WriteNull("passRate");
        json.WriteNumber("autoWhitelistEntries", stats.AutoWhitelistEntries);
        json.WriteNumber("whitelisted", stats.Whitelisted);
        json.WriteNumber("whitelistAfter", whitelistAfter);
        json.WriteNumber("allowed", stats.Allowed);
        json.WriteNumber("expired", stats.Expired);
        json.WriteStartArray("topPending");
        foreach (var client in top)
        {
            json.WriteStartObject();
            json.WriteString("client", client.Client);
            json.WriteNumber("pending", client.Pending);
            json.WriteTime("lastSeen", client.LastSeen);
            json.WriteEndObject();
        }
        json.WriteEndArray();
        json.WriteEndObject();
    });

    /// <summary>Of the live triplets, the share that came back in time and passed; null with none.</summary>
    public static double? PassRate(GreylistStats stats) =>
        stats.Pending + stats.Passed == 0 ? null : (double)stats.Passed / (stats.Pending + stats.Passed);

    public static string StateName(TripletState state) => state == TripletState.Pending ? "pending" : "passed";

    private static void Section(TextWriter output, string title, int count, int limit, ref bool written)
    {
        if (written)
            output.WriteLine();
        written = true;
        output.WriteLine(count == 0 ? $"{title}: none."
            : count >= limit ? $"{title}: the {Number(count)} most recently seen (there may be more: --limit):"
            : $"{title}: {Number(count)}");
    }

    private static string Number(long n) => n.ToString(CultureInfo.InvariantCulture);
}
