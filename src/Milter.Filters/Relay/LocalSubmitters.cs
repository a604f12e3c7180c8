using System.Globalization;
using System.Net;
using Milter.Filters.Context;
using Milter.Filters.Recipients;

namespace Milter.Filters.Relay;

/// <summary>
/// <c>relay.local_users</c>, resolved: the accounts whose mail submitted on this host may leave
/// it, and how to tell who submitted a session. The owner of the client's socket (the kernel's TCP
/// table) is the user, unless it is the submission account (<c>relay.submission_user</c>, sendmail's
/// <c>smmsp</c>): that account submits for whoever called the submission program, and the user is
/// the one the program wrote into its own <c>Received: (from USER@localhost)</c> line.
/// </summary>
public sealed class LocalSubmitters
{
    private readonly HashSet<uint> _allowed;
    private readonly uint? _submissionUid;
    private readonly LocalAccounts _accounts;
    private readonly TcpSocketTable _sockets;

    private LocalSubmitters(HashSet<uint> allowed, uint? submissionUid, LocalAccounts accounts, TcpSocketTable sockets)
    {
        _allowed = allowed;
        _submissionUid = submissionUid;
        _accounts = accounts;
        _sockets = sockets;
    }

    /// <summary>
    /// Resolves <paramref name="users"/> (names or uids) and the submission account through NSS.
    /// A submission account unknown here means no session is read through its Received line.
    /// </summary>
    /// <exception cref="FormatException">A listed name is not an account of this host.</exception>
    /// <exception cref="IOException">An NSS source failed.</exception>
    public static LocalSubmitters Resolve(IReadOnlyList<string> users, string? submissionUser, LocalAccounts accounts, TcpSocketTable sockets)
    {
        ArgumentNullException.ThrowIfNull(users);
        ArgumentNullException.ThrowIfNull(accounts);
        ArgumentNullException.ThrowIfNull(sockets);
        var allowed = new HashSet<uint>();
        foreach (var user in users)
            allowed.Add(ParseUid(user) ?? accounts.UidOf(user) ?? throw new FormatException($"relay.local_users: no account '{user}' on this host"));
        var submission = string.IsNullOrEmpty(submissionUser) ? null : ParseUid(submissionUser) ?? accounts.UidOf(submissionUser);
        return new LocalSubmitters(allowed, submission, accounts, sockets);
    }

    /// <summary>A uid written as digits; null for anything else (a name).</summary>
    public static uint? ParseUid(string entry) =>
        entry.Length > 0 && entry.All(char.IsAsciiDigit) && uint.TryParse(entry, NumberStyles.None, CultureInfo.InvariantCulture, out var uid) ? uid : null;

    /// <summary>True when a session on this host is judged by <c>local_users</c>: a loopback client or a local submission.</summary>
    public static bool IsOnThisHost(SessionContext session)
    {
        ArgumentNullException.ThrowIfNull(session);
        return session.IsLocalSubmission || session.ClientAddress is { } address && IPAddress.IsLoopback(address);
    }

    /// <summary>True when mail of <paramref name="uid"/> may go to foreign domains.</summary>
    public bool Allows(uint uid) => _allowed.Contains(uid);

    /// <summary>True when <paramref name="uid"/> is the submission account, which submits for others.</summary>
    public bool IsSubmissionAccount(uint uid) => _submissionUid == uid;

    /// <summary>The account's name for the decision line; its number when NSS has no name for it. Blocks on NSS.</summary>
    public string NameOf(uint uid) => _accounts.NameOf(uid) ?? uid.ToString(CultureInfo.InvariantCulture);

    /// <summary>The uid of the account named <paramref name="name"/>; null when there is none. Blocks on NSS.</summary>
    public uint? UidOf(string name) => _accounts.UidOf(name);

    /// <summary>
    /// Who owns the session's client end: for a TCP client, the owner of the ESTABLISHED socket
    /// from the client's address and port to the MTA's end (<c>{daemon_port}</c>, and
    /// <c>{if_addr}</c> or <c>{daemon_addr}</c> when the daemon listens on one address); for a
    /// local submission without a socket (<c>sendmail -bs</c>; Postfix's sendmail command, port 0, names
    /// nobody), the user sendmail itself names in its <c>_</c> macro (<c>USER@localhost</c>, from the real uid). Blocks on file reads and NSS.
    /// </summary>
    /// <exception cref="LocalUserUnknownException">The owner cannot be found.</exception>
    public uint OwnerOf(SessionContext session)
    {
        ArgumentNullException.ThrowIfNull(session);
        // Port 0: Postfix's sendmail command, whose cleanup reports localhost and names no user (_ = "localhost [127.0.0.1]").
        if (session.ClientAddress is not { } address || session.ClientPort == 0)
        {
            var macro = session.Macro("_");
            var user = SubmissionReceived.User($"(from {macro})");
            if (user is null)
                throw new LocalUserUnknownException($"a local submission without a socket whose MTA names no local user (macro _ = '{macro}')");
            return UidOf(user) ?? throw new LocalUserUnknownException($"sendmail names local user '{user}', unknown here");
        }
        var serverPort = int.TryParse(session.Macro("daemon_port"), NumberStyles.None, CultureInfo.InvariantCulture, out var port) && port is > 0 and <= 65535 ? port : 0;
        var serverAddress = MtaAddress(session.Macro("if_addr")) ?? MtaAddress(session.Macro("daemon_addr"));
        return _sockets.FindOwner(new IPEndPoint(address, session.ClientPort), serverAddress, serverPort)
            ?? throw new LocalUserUnknownException(
                $"no single ESTABLISHED socket from [{address}]:{session.ClientPort} to the MTA ([{serverAddress?.ToString() ?? "any"}]:{(serverPort == 0 ? "any" : serverPort)}) in the kernel's TCP table");
    }

    // sendmail writes IPv6 as "IPv6:::1"; a daemon on every address (0.0.0.0, ::) says nothing of the connection's end.
    private static IPAddress? MtaAddress(string? macro)
    {
        var text = macro is not null && macro.StartsWith("IPv6:", StringComparison.OrdinalIgnoreCase) ? macro[5..] : macro;
        if (!IPAddress.TryParse(text, out var address) || address.Equals(IPAddress.Any) || address.Equals(IPAddress.IPv6Any))
            return null;
        return address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;
    }
}
