using System.Globalization;

namespace Milter.Load;

/// <summary>What kind of SMTP session the load sends.</summary>
public enum Mix { New, Passed, Banned, Unknown, Blend }

/// <summary>The kind of one session: what the filter under test is expected to do with it.</summary>
public enum SessionKind { New, Passed, Banned, Unknown }

/// <summary>One message of a session: envelope sender and recipients.</summary>
public sealed record MessagePlan(string Sender, string[] Recipients, string QueueId);

/// <summary>One SMTP session as sendmail would report it to a milter: the client, its HELO, one or two messages.</summary>
public sealed record SessionPlan(SessionKind Kind, string ClientAddress, string ClientName, ushort ClientPort, string Helo, MessagePlan[] Messages);

/// <summary>
/// Deterministic traffic. Every session is a function of (kind, index, run nonce), so the known
/// set (<see cref="SessionKind.Passed"/>, indices 0..<c>knownSet</c>-1) is the same in every run
/// and can be warmed, while new, banned and unknown sessions carry the nonce and are new in each
/// run. Client pools per kind never overlap, so one kind's history never changes another's answer
/// (a client that passed greylisting and then sends to unknown recipients would be banned).
/// <list type="bullet">
/// <item>passed: clients in 100.64.0.0/10, senders from 500 domains, recipients from the aliases file;</item>
/// <item>new: clients in 172.16.0.0/12, a sender never seen before (the nonce);</item>
/// <item>banned: clients in 203.0.113.0/24 (a <c>ban: client</c> rule in the bench config);</item>
/// <item>unknown: clients in 198.18.0.0/15 writing to recipients not in the aliases file.</item>
/// </list>
/// Sender local parts are letters only: milterhost folds standalone numbers in a sender's local
/// part (VERP), which would turn distinct senders into one triplet.
/// </summary>
public sealed class Traffic
{
    /// <summary>Users <c>user00000</c>..<c>user{N-1}</c> exist in the generated aliases file.</summary>
    public const int AliasUsers = 10_000;

    private readonly Mix _mix;
    private readonly int _knownSet;
    private readonly string _nonce;
    private readonly bool _churn;

    /// <param name="churn">One message with one recipient per session (sendmail's milter connection per SMTP transaction under churn), instead of one or two messages of 1–3 recipients.</param>
    public Traffic(Mix mix, int knownSet, string nonce, bool churn = false)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(knownSet, 1);
        _mix = mix;
        _knownSet = knownSet;
        _nonce = nonce;
        _churn = churn;
    }

    /// <summary>Session number <paramref name="n"/> of a measured run.</summary>
    public SessionPlan Session(long n)
    {
        var kind = _mix switch
        {
            Mix.New => SessionKind.New,
            Mix.Passed => SessionKind.Passed,
            Mix.Banned => SessionKind.Banned,
            Mix.Unknown => SessionKind.Unknown,
            _ => BlendKind(Hash(n, 0xb1e)),
        };
        // Known sessions cycle through the warmed set; the others are new in every run.
        var index = kind == SessionKind.Passed
            ? (_mix == Mix.Passed ? n % _knownSet : (long)(Hash(n, 0x5e7) % (ulong)_knownSet))
            : n;
        return Build(kind, index);
    }

    /// <summary>The known set, in order, for warming: each of these once, twice with a pause between.</summary>
    public IEnumerable<SessionPlan> KnownSet()
    {
        for (var k = 0; k < _knownSet; k++)
            yield return Build(SessionKind.Passed, k);
    }

    /// <summary>Whether a mix sends sessions of the known set (and so needs warming).</summary>
    public static bool UsesKnownSet(Mix mix) => mix is Mix.Passed or Mix.Blend;

    // A blend for an MX that sees mostly repeat senders and a steady share of spam:
    // 50% known, 25% new, 15% banned clients, 10% unknown recipients.
    private static SessionKind BlendKind(ulong h) => (h % 100) switch
    {
        < 50 => SessionKind.Passed,
        < 75 => SessionKind.New,
        < 90 => SessionKind.Banned,
        _ => SessionKind.Unknown,
    };

    private SessionPlan Build(SessionKind kind, long index)
    {
        var h = Hash(index, (ulong)kind + 1);
        var salt = kind == SessionKind.Passed ? "" : _nonce;
        var client = kind switch
        {
            // 1,000 networks of 250 hosts each for the known set.
            SessionKind.Passed => $"100.{64 + h % 1000 / 256}.{h % 1000 % 256}.{1 + (h >> 20) % 250}",
            SessionKind.New => $"172.{16 + h % 16}.{(h >> 8) % 256}.{1 + (h >> 16) % 250}",
            SessionKind.Banned => $"203.0.113.{1 + h % 254}",
            _ => $"198.{18 + h % 2}.{(h >> 8) % 256}.{1 + (h >> 16) % 250}",
        };
        var domain = $"sender{h % 500:D3}.example";
        var name = "mail-" + client.Replace('.', '-') + "." + domain;
        // One or two messages per session; a banned client's session ends at CONNECT, so it has one.
        var messages = new MessagePlan[kind == SessionKind.Banned || _churn ? 1 : 1 + (int)((h >> 32) % 2)];
        for (var m = 0; m < messages.Length; m++)
        {
            var hm = Hash(index * 4 + m, (ulong)kind + 17);
            var sender = Letters(hm % 500_000) + "-" + salt + "q" + Letters((ulong)index) + "-" + Letters((ulong)m) + "@" + domain;
            var recipients = new string[_churn ? 1 : 1 + (int)((hm >> 40) % 3)];
            for (var r = 0; r < recipients.Length; r++)
            {
                var user = (int)(Hash(index * 16 + m * 4 + r, 99) % AliasUsers);
                recipients[r] = kind == SessionKind.Unknown
                    ? "nosuch" + Letters((ulong)user) + salt + "@example.com"
                    : "user" + user.ToString("D5", CultureInfo.InvariantCulture) + "@example.com";
            }
            messages[m] = new MessagePlan(sender, recipients, "6B" + (hm % 100_000_000).ToString("X8", CultureInfo.InvariantCulture));
        }
        return new SessionPlan(kind, client, name, (ushort)(1024 + h % 60000), name, messages);
    }

    /// <summary>A number written in the letters a-z (no digits: see the class remarks).</summary>
    public static string Letters(ulong value)
    {
        Span<char> buffer = stackalloc char[16];
        var at = buffer.Length;
        do
        {
            buffer[--at] = (char)('a' + (int)(value % 26));
            value /= 26;
        }
        while (value > 0);
        return new string(buffer[at..]);
    }

    /// <summary>SplitMix64 of (value, stream): cheap, well spread, reproducible.</summary>
    public static ulong Hash(long value, ulong stream)
    {
        var z = (ulong)value * 0x9E3779B97F4A7C15UL + stream * 0xD1B54A32D192ED03UL + 0x632BE59BD9B4E019UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
