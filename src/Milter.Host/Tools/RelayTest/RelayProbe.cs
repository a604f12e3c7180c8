using System.Net;
using System.Net.Sockets;
using MilterHost.Configuration;

namespace MilterHost.Tools.RelayTest;

/// <summary>
/// Speaks SMTP to a server the way an attacker with telnet would and tries every
/// <see cref="RelayTricks">relay trick</see>: EHLO once, then per trick MAIL FROM, RCPT TO and RSET.
/// DATA is never sent, so nothing is ever queued. A server that drops the connection (or answers
/// 421) is connected to again and the trick tried once more.
/// </summary>
public static class RelayProbe
{
    public static async Task<RelayReport> RunAsync(RelayProbeOptions options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        var target = options.Target;
        var (addresses, resolveError) = await ResolveAsync(options, cancellationToken).ConfigureAwait(false);
        if (resolveError is not null)
            return Failed(options, null, resolveError);

        Session? session = null;
        string? failure = null;
        foreach (var address in addresses)
        {
            (session, failure) = await OpenAsync(new IPEndPoint(address, target.Port), options, cancellationToken).ConfigureAwait(false);
            if (session is not null)
                break;
        }
        if (session is null)
            return Failed(options, addresses.Length == 1 ? new IPEndPoint(addresses[0], target.Port) : null, failure!);

        var server = session.Connection.Remote;
        var source = session.Connection.Local;
        var greeting = session.Greeting.Text;
        var hostName = HostNameOf(session.Greeting) ?? HostNameOf(session.Hello);
        var localDomain = options.LocalDomain ?? (hostName is not null ? RelayTricks.LocalDomainOf(hostName) : RelayTricks.IpLiteral(server.Address));
        var tricks = RelayTricks.Build(options.Sender, options.Recipient, localDomain, hostName, server.Address);

        var attempts = new List<RelayAttempt>();
        try
        {
            foreach (var trick in tricks)
            {
                RelayAttempt? attempt = null;
                string? lastError = null;
                for (var round = 0; round < 2 && attempt is null; round++)
                {
                    if (session is null)
                    {
                        (session, lastError) = await OpenAsync(server, options, cancellationToken).ConfigureAwait(false);
                        if (session is null)
                            break;
                    }
                    var (result, broken, error) = await TryAsync(session.Connection, trick, cancellationToken).ConfigureAwait(false);
                    attempt = result;
                    lastError = error ?? lastError;
                    if (broken)
                    {
                        await session.Connection.DisposeAsync().ConfigureAwait(false);
                        session = null;
                    }
                }
                attempts.Add(attempt ?? new RelayAttempt(trick, null, null, RelayVerdict.NotTried, lastError));
            }
            if (session is not null)
                await QuitAsync(session.Connection, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            if (session is not null)
                await session.Connection.DisposeAsync().ConfigureAwait(false);
        }
        return new RelayReport(target, server, source, greeting, hostName, localDomain, attempts, null);
    }

    /// <summary>
    /// MAIL, RCPT, RSET. Returns the attempt once RCPT was answered (null before), whether the
    /// connection is unusable now, and what went wrong.
    /// </summary>
    private static async Task<(RelayAttempt? Attempt, bool Broken, string? Error)> TryAsync(SmtpProbeConnection connection, RelayTrick trick,
        CancellationToken cancellationToken)
    {
        ServerReply? mail = null;
        RelayAttempt? attempt = null;
        try
        {
            mail = await connection.CommandAsync($"MAIL FROM:<{trick.MailFrom}>", cancellationToken).ConfigureAwait(false);
            var rcpt = await connection.CommandAsync($"RCPT TO:<{trick.RcptTo}>", cancellationToken).ConfigureAwait(false);
            attempt = RelayAttempt.Of(trick, mail, rcpt);
            await connection.CommandAsync("RSET", cancellationToken).ConfigureAwait(false);
            return (attempt, false, null);
        }
        catch (Exception e) when (IsConversationFailure(e))
        {
            return (attempt, true, e.Message);
        }
    }

    private static async Task<(Session? Session, string? Failure)> OpenAsync(IPEndPoint server, RelayProbeOptions options, CancellationToken cancellationToken)
    {
        SmtpProbeConnection? connection = null;
        try
        {
            connection = await SmtpProbeConnection.ConnectAsync(server, options.Source, options.Timeout, options.Transcript, cancellationToken).ConfigureAwait(false);
            options.Transcript?.Invoke($"*** connected to {Show(connection.Remote)} from {Show(connection.Local)}");
            var greeting = await connection.ReadReplyAsync(cancellationToken).ConfigureAwait(false);
            if (greeting.Code != 220)
                return await GiveUpAsync($"{Show(server)} refused the session: {greeting.Text}").ConfigureAwait(false);
            var hello = await connection.CommandAsync("EHLO " + options.Helo, cancellationToken).ConfigureAwait(false);
            if (!hello.IsPositive)
                hello = await connection.CommandAsync("HELO " + options.Helo, cancellationToken).ConfigureAwait(false);
            if (!hello.IsPositive)
                return await GiveUpAsync($"{Show(server)} refused EHLO and HELO {options.Helo}: {hello.Text}").ConfigureAwait(false);
            return (new Session(connection, greeting, hello), null);
        }
        catch (Exception e) when (IsConversationFailure(e) || e is SocketException)
        {
            return await GiveUpAsync($"cannot reach {Show(server)}{(options.Source is null ? "" : " from " + options.Source)}: {e.Message}").ConfigureAwait(false);
        }

        async Task<(Session?, string?)> GiveUpAsync(string why)
        {
            options.Transcript?.Invoke("*** " + why);
            if (connection is not null)
                await connection.DisposeAsync().ConfigureAwait(false);
            return (null, why);
        }
    }

    private static async Task QuitAsync(SmtpProbeConnection connection, CancellationToken cancellationToken)
    {
        try
        {
            await connection.CommandAsync("QUIT", cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (IsConversationFailure(e))
        {
            // The verdicts are in; a server that hangs up on QUIT changes none of them.
        }
    }

    private static async Task<(IPAddress[] Addresses, string? Error)> ResolveAsync(RelayProbeOptions options, CancellationToken cancellationToken)
    {
        var target = options.Target;
        IPAddress[] addresses;
        if (target.Address is { } literal)
        {
            addresses = [literal];
        }
        else
        {
            using var bound = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            bound.CancelAfter(options.Timeout);
            try
            {
                addresses = await Dns.GetHostAddressesAsync(target.Host, bound.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                return ([], $"cannot resolve {target.Host}: no answer within {Duration.Format(options.Timeout)}");
            }
            catch (SocketException e)
            {
                return ([], $"cannot resolve {target.Host}: {e.Message}");
            }
        }
        if (options.Source is { } source)
            addresses = [.. addresses.Where(a => a.AddressFamily == source.AddressFamily)];
        return addresses.Length == 0
            ? ([], $"{target.Host} has no {(options.Source?.AddressFamily == AddressFamily.InterNetworkV6 ? "IPv6" : "IPv4")} address to reach from {options.Source}")
            : (addresses, null);
    }

    private static RelayReport Failed(RelayProbeOptions options, IPEndPoint? server, string failure) =>
        new(options.Target, server, null, null, null, options.LocalDomain, [], failure);

    /// <summary>The first word of a 220 greeting or EHLO reply when it is a dotted host name.</summary>
    private static string? HostNameOf(ServerReply reply)
    {
        var text = reply.Text.Length > 4 ? reply.Text[4..].TrimStart() : "";
        var space = text.IndexOf(' ', StringComparison.Ordinal);
        var word = (space < 0 ? text : text[..space]).TrimEnd('.');
        return word.Contains('.', StringComparison.Ordinal) && HostNames.IsValid(word) ? word.ToLowerInvariant() : null;
    }

    private static bool IsConversationFailure(Exception e) => e is IOException or TimeoutException or FormatException;

    /// <summary><c>192.0.2.1:25</c>, <c>[2001:db8::1]:25</c>.</summary>
    internal static string Show(IPEndPoint endPoint) =>
        endPoint.AddressFamily == AddressFamily.InterNetworkV6 ? $"[{endPoint.Address}]:{endPoint.Port}" : $"{endPoint.Address}:{endPoint.Port}";

    private sealed record Session(SmtpProbeConnection Connection, ServerReply Greeting, ServerReply Hello);
}
