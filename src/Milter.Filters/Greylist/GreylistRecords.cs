namespace Milter.Filters.Greylist;

// The greylist tables as Dapper reads and writes them: rows mapped by column name (case and
// underscores ignored: first_seen is FirstSeen), parameters bound by member name (@FirstSeen). A
// CancellationToken member is no parameter; it cancels the command. Times are Unix seconds.

/// <summary>A <c>greylist_triplet</c> row.</summary>
internal sealed record TripletRow(string Client, string Sender, string Recipient, long State, long FirstSeen, long LastSeen, long Expires, long Deferrals)
{
    public TripletEntry ToEntry() => new(new Triplet(Client, Sender, Recipient), (TripletState)State,
        GreylistRows.Time(FirstSeen), GreylistRows.Time(LastSeen), GreylistRows.Time(Expires), (int)Math.Min(Deferrals, int.MaxValue));
}

/// <summary>A <c>greylist_awl</c> row.</summary>
internal sealed record AwlRow(string Client, string SenderDomain, long Passes, long FirstSeen, long LastSeen, long Expires)
{
    public AutoWhitelistEntry ToEntry() => new(Client, SenderDomain, (int)Math.Min(Passes, int.MaxValue),
        GreylistRows.Time(FirstSeen), GreylistRows.Time(LastSeen), GreylistRows.Time(Expires));
}

/// <summary>The row of <c>StoreSql.SelectTripletAndAwl</c>: the triplet's columns, then the auto-whitelist entry's (awl_*); each side null when absent.</summary>
internal sealed record TripletAndAwlRow(string? Client, string? Sender, string? Recipient, long? State, long? FirstSeen, long? LastSeen, long? Expires,
    long? Deferrals, string? AwlClient, string? AwlSenderDomain, long? AwlPasses, long? AwlFirstSeen, long? AwlLastSeen, long? AwlExpires)
{
    public TripletEntry? Triplet() => Client is null
        ? null
        : new TripletRow(Client, Sender!, Recipient!, State ?? 0, FirstSeen ?? 0, LastSeen ?? 0, Expires ?? 0, Deferrals ?? 0).ToEntry();

    public AutoWhitelistEntry? AutoWhitelist() => AwlClient is null
        ? null
        : new AwlRow(AwlClient, AwlSenderDomain!, AwlPasses ?? 0, AwlFirstSeen ?? 0, AwlLastSeen ?? 0, AwlExpires ?? 0).ToEntry();
}

/// <summary>A <c>greylist_allow</c> row; <c>Expires</c> null: never.</summary>
internal sealed record AllowRow(long Kind, string Value, string Reason, long Created, long? Expires)
{
    public GreylistAllowEntry ToEntry() => new((GreylistAllowKind)Kind, Value, Reason, GreylistRows.Time(Created),
        Expires is { } expires ? GreylistRows.Time(expires) : null);
}

/// <summary>What <c>StoreSql.SweepTriplets</c> returns of each deleted triplet.</summary>
internal sealed record SweptTripletRow(long State, long Expires, long Deferrals);

/// <summary>A row of <c>StoreSql.CountTriplets</c>.</summary>
internal sealed record StateCountRow(long State, long N);

/// <summary>The row of <c>StoreSql.CountAwl</c>.</summary>
internal sealed record AwlCountRow(long Entries, long Whitelisted);

/// <summary>A row of <c>StoreSql.TopPendingClients</c>.</summary>
internal sealed record PendingClientRow(string Client, long Pending, long LastSeen);

/// <summary>A row of <c>StoreSql.TripletKeysAfter</c>: a triplet's key and its rowid.</summary>
internal sealed record TripletKeyRow(long Id, string Client, string Sender, string Recipient);

/// <summary>A row of <c>StoreSql.AwlKeysAfter</c>: an auto-whitelist entry's key and its rowid.</summary>
internal sealed record AwlKeyRow(long Id, string Client, string SenderDomain);

/// <summary>The row of <c>StoreSql.LastKeyRowids</c>.</summary>
internal sealed record LastKeyRowidsRow(long Triplets, long Awl);

/// <summary>At most <c>Limit</c> rows after rowid <c>After</c>.</summary>
internal sealed record KeysAfterArgs(long After, long Limit, CancellationToken Cancel);

/// <summary>One triplet by its key.</summary>
internal sealed record TripletKeyArgs(string Client, string Sender, string Recipient, CancellationToken Cancel);

/// <summary>A check's read: the triplet and its (client, sender domain).</summary>
internal sealed record TripletAndAwlArgs(string Client, string Sender, string Recipient, string SenderDomain, CancellationToken Cancel);

/// <summary>One auto-whitelist entry by its key.</summary>
internal sealed record AwlKeyArgs(string Client, string SenderDomain, CancellationToken Cancel);

/// <summary>A triplet row to insert or update.</summary>
internal sealed record TripletWrite(string Client, string Sender, string Recipient, string SenderDomain, long State, long FirstSeen, long LastSeen,
    long Expires, long Deferrals, CancellationToken Cancel);

/// <summary>An auto-whitelist entry used at <c>Now</c>, kept until <c>Expires</c>.</summary>
internal sealed record AwlTouchArgs(string Client, string SenderDomain, long Now, long Expires, CancellationToken Cancel);

/// <summary>A passed triplet used at <c>Now</c>, kept until <c>Expires</c>.</summary>
internal sealed record TripletTouchArgs(string Client, string Sender, string Recipient, long Now, long Expires, CancellationToken Cancel);

/// <summary>Everything of one client key.</summary>
internal sealed record ClientArgs(string Client, CancellationToken Cancel);

/// <summary>One client key, alive at <c>Now</c>.</summary>
internal sealed record ClientNowArgs(string Client, long Now, CancellationToken Cancel);

/// <summary>A strike of a client key at <c>Now</c>, counted until <c>Expires</c>.</summary>
internal sealed record StrikeArgs(string Client, long Now, long Expires, CancellationToken Cancel);

/// <summary>The strikes of a client key since <c>Since</c>.</summary>
internal sealed record StrikeCountArgs(string Client, long Since, CancellationToken Cancel);

/// <summary>The auto-whitelist counts at <c>Now</c>, whitelisted from <c>Passes</c> on.</summary>
internal sealed record AwlCountArgs(long Now, long Passes, CancellationToken Cancel);

/// <summary>The <c>Limit</c> client keys with the most triplets in <c>State</c> at <c>Now</c>.</summary>
internal sealed record PendingClientsArgs(long Now, long State, long Limit, CancellationToken Cancel);

/// <summary>An allow entry to add or replace.</summary>
internal sealed record AllowWrite(long Kind, string Value, string Reason, long Created, long? Expires, CancellationToken Cancel);

/// <summary>One allow entry by its key.</summary>
internal sealed record AllowKeyArgs(long Kind, string Value, CancellationToken Cancel);

// The listings' SQL is built at run time: their records have no CancellationToken member, for which
// Dapper.AOT 1.1.0 generates code that does not compile when the SQL is not a constant.

/// <summary>The filters of a triplet listing (<see cref="GreylistQuerySql"/>); those the SQL does not name stay unused.</summary>
internal sealed record TripletQueryArgs(long Now, long? State, string? SenderDomain, string? Sender, string? Recipient, long? Limit);

/// <summary>The filters of an auto-whitelist listing (<see cref="GreylistQuerySql"/>); those the SQL does not name stay unused.</summary>
internal sealed record AwlQueryArgs(long Now, long? Passes, string? SenderDomain, long? Limit);
