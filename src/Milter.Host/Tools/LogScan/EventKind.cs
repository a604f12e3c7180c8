namespace MilterHost.Tools.LogScan;

/// <summary>What a maillog line says a client did wrong. Names are the ones shown to the admin.</summary>
public enum EventKind
{
    /// <summary><c>Relaying denied</c> (check_rcpt, or milterhost's relay filter).</summary>
    RelayDenied,
    /// <summary><c>User unknown</c> (check_rcpt, local delivery, or milterhost's recipients filter).</summary>
    UserUnknown,
    /// <summary>Another 5xx from check_mail / check_rcpt / check_relay (access map, DNSBL, bad sender domain).</summary>
    Reject5xx,
    /// <summary>A 4xx from check_mail / check_rcpt / check_relay (rate limits, unresolvable domains).</summary>
    Reject4xx,
    /// <summary><c>AUTH failure (MECH): ...</c>.</summary>
    AuthFailure,
    /// <summary><c>possible SMTP attack: command=AUTH, count=N</c>.</summary>
    SmtpAttack,
    /// <summary><c>did not issue MAIL/EXPN/VRFY/ETRN during connection</c>.</summary>
    NoMailCommand,
    /// <summary><c>lost input channel from ... after ...</c>.</summary>
    LostInput,
    /// <summary><c>Possible SYNFLOOD attack</c>.</summary>
    SynFlood,
    /// <summary><c>rejecting commands from ... due to pre-greeting traffic</c>.</summary>
    PreGreeting,
    /// <summary>A milter refused with 5xx (sendmail's <c>Milter: ... reject=</c>), or milterhost's ban filter.</summary>
    MilterReject,
}

internal static class EventKinds
{
    public const int Count = (int)EventKind.MilterReject + 1;

    private static readonly string[] Names =
    [
        "relay-denied", "user-unknown", "reject-5xx", "reject-4xx", "auth-failure", "smtp-attack",
        "no-mail-command", "lost-input", "synflood", "pre-greeting", "milter-reject",
    ];

    public static string Name(this EventKind kind) => Names[(int)kind];
}
