namespace Milter.Filters.Logging;

/// <summary>
/// Every event id Milter.Filters logs with, one block per area, so that an id names one kind of line
/// (a log search or alert keyed on it never catches another). The log classes of each area
/// (<see cref="FilterLog"/>, DnsLog, GreylistLog, StoreLog, StatsLog) take their ids from here.
/// </summary>
internal static class FilterEventId
{
    // 3000-3099: the chain.
    public const int FilterFailed = 3000;
    public const int FilterCleanupFailed = 3001;
    public const int FilterStillFailing = 3002;
    public const int FilterRecovered = 3003;

    // 3300-3399: recipient sources.
    public const int RecipientSourceLoaded = 3300;
    public const int RecipientSourceReloadFailed = 3301;
    public const int RecipientSourceBadLine = 3302;
    public const int AliasFileSkipped = 3303;

    // 3400-3499: DNS, SPF and DNS lists.
    public const int DnsLookupsFailed = 3400;
    public const int DnsFacts = 3401;
    public const int DnsRecovered = 3402;

    // 3600-3699: greylisting.
    public const int BypassBan = 3600;
    public const int GreylistHeld = 3601;
    public const int GreylistSkipped = 3602;
    public const int MisbehaviourNotRecorded = 3603;
    public const int AutoWhitelistUncountFailed = 3604;

    // 3700-3799: stores.
    public const int SnapshotRefreshFailed = 3700;
    public const int StoreOpened = 3701;
    public const int BanAdded = 3702;
    public const int BanRemoved = 3703;
    public const int Swept = 3704;
    public const int SweepFailed = 3705;
    public const int TouchFlushFailed = 3706;
    public const int ChangesReloaded = 3707;
    public const int ChangePollFailed = 3708;
    public const int ChangePollRecovered = 3709;
    public const int DatabaseFileRecreated = 3710;
    public const int AttemptsLost = 3711;
    public const int AttemptsDropped = 3712;
    public const int CheckpointFailed = 3713;
    public const int DatabaseFileRemoved = 3714;
    public const int KeyFilterReady = 3715;
    public const int KeyFilterReadyCompacted = 3716;
    public const int SweepPostponed = 3717;
    public const int DatabaseFileReplaced = 3718;

    // 3800-3899: the decision and greylist tallies.
    public const int TallyFlushFailed = 3800;
    public const int TallyDropped = 3801;
    public const int TallyFolded = 3802;
}
