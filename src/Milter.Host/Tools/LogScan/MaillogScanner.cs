using System.Net;
using Milter.Filters.Stores;

namespace MilterHost.Tools.LogScan;

/// <summary>
/// Folds maillog lines, one at a time and in any number of files, into per-client activity. Events
/// whose line names no client (sendmail's milter refusals, local-delivery <c>User unknown</c>) wait on
/// their queue id until the <c>from=..., relay=</c> line of the same queue id shows up (before or
/// after), or take the client of their sendmail pid's <c>connect from</c> line. Pids are reused: only
/// a <c>connect from</c> line, which starts every session where sendmail logs it, ties a pid to a
/// client (not the envelope or refusal lines of an earlier session of that pid), and never
/// milterhost's pid, one process for every session. Both waiting maps are bounded
/// (<see cref="ScanLimits"/>); what falls out of them is counted as unattributed. Events of an
/// authenticated session (a milterhost line with <c>auth=</c>, or sendmail's <c>AUTH=server</c> line for
/// the pid) are counted apart and never blamed on the client: a user who mistypes is not an attacker.
/// </summary>
internal sealed class MaillogScanner
{
    private readonly SyslogLineParser _parser;
    private readonly DateTimeOffset? _since;
    private readonly ScanLimits _limits;
    private readonly Dictionary<IPAddress, ClientActivity> _clients = [];
    private readonly BoundedCache<(string Host, string QueueId), QueueEntry> _queues;
    private readonly BoundedCache<(string Host, int Pid), ClientAddress> _pids;
    private readonly BoundedCache<(string Host, int Pid), bool> _authenticatedPids;
    private long _lines, _unrecognised, _events, _outside, _unattributed, _duplicates, _ambiguous, _authenticated;

    public MaillogScanner(SyslogLineParser parser, DateTimeOffset? since, ScanLimits limits)
    {
        _parser = parser;
        _since = since;
        _limits = limits;
        _queues = new(limits.QueueIds, entry => _unattributed += entry.PendingTotal);
        _pids = new(limits.Pids);
        _authenticatedPids = new(limits.Pids);
    }

    /// <summary>Lines and journal entries read so far.</summary>
    public long Lines => _lines;

    /// <summary>A line too long to read whole, or a journal entry not written by the MTA or the daemon: counted, never parsed.</summary>
    public void Skip()
    {
        _lines++;
        _unrecognised++;
    }

    public void Feed(string line)
    {
        _lines++;
        if (!_parser.TryParse(line, out var syslog))
        {
            _unrecognised++;
            return;
        }
        Feed(syslog);
    }

    /// <summary>A line whose syslog fields are known already (a journal entry).</summary>
    public void Feed(SyslogLine syslog, bool counted = false)
    {
        if (counted)
            _lines++;
        var message = MaillogMessageParser.Parse(syslog.Program, syslog.Message);
        switch (message.Role)
        {
            case LineRole.Connect:
                if (syslog.Pid is { } pid)
                {
                    // A new session of this pid: whatever the last one authenticated as no longer holds.
                    _pids.Set((syslog.Host, pid), message.Client!.Value);
                    _authenticatedPids.Remove((syslog.Host, pid));
                }
                break;
            case LineRole.AuthSession:
                if (syslog.Pid is { } authPid)
                    _authenticatedPids.Set((syslog.Host, authPid), true);
                if (message.QueueId is { } authQueue)
                    Queue(syslog.Host, authQueue).Authenticated = true;
                break;
            case LineRole.Ambiguous:
                _ambiguous++;
                break;
            case LineRole.Envelope:
                OnEnvelope(syslog, message);
                break;
            case LineRole.Event:
                OnEvent(syslog, message);
                break;
        }
    }

    public LogScanResult Finish()
    {
        long waiting = 0;
        foreach (var entry in _queues.Values)
            waiting += entry.PendingTotal;
        return new LogScanResult
        {
            Clients = _clients.Values.ToArray(),
            Lines = _lines,
            Unrecognised = _unrecognised,
            Events = _events,
            OutsideWindow = _outside,
            Unattributed = _unattributed + waiting,
            Duplicates = _duplicates,
            Ambiguous = _ambiguous,
            Authenticated = _authenticated,
        };
    }

    private void OnEnvelope(SyslogLine syslog, MaillogMessage message)
    {
        var entry = Queue(syslog.Host, message.QueueId!);
        if (message.LocalSubmission)
        {
            // Submitted on this host (relay=user@localhost): no remote client to blame.
            entry.Local = true;
            _unattributed += entry.TakePending().Total;
            return;
        }
        var client = message.Client!.Value;
        entry.Client = client;
        var pending = entry.TakePending();
        if (pending.Total == 0)
            return;
        var activity = Activity(client);
        for (var kind = 0; kind < EventKinds.Count; kind++)
        {
            if (pending.Counts![kind] > 0)
                activity.Add((EventKind)kind, pending.Counts[kind], pending.First, pending.Last);
        }
    }

    private void OnEvent(SyslogLine syslog, MaillogMessage message)
    {
        QueueEntry? entry = null;
        var fingerprint = message.QueueId is null ? null : message.Fingerprint;
        if (message.QueueId is { } queueId)
        {
            entry = Queue(syslog.Host, queueId);
            if (fingerprint is not null && entry.TakeOtherCopy(message.Source, fingerprint, out var earlier))
            {
                _duplicates++;
                // sendmail may log its copy before milterhost's line: the auth= it lacked is known only now.
                if (message.Authenticated)
                {
                    entry.Authenticated = true;
                    Uncount(entry, earlier);
                }
                return;
            }
            if (message.Client is { } named && entry.Client is null && !entry.Local)
                entry.Client = named;
            if (message.Authenticated)
                entry.Authenticated = true;
        }
        var counted = Count(syslog, message, entry);
        if (fingerprint is not null)
            entry!.Remember(message.Source, fingerprint, counted, _limits.FingerprintsPerQueueId);
    }

    /// <summary>Counts one event (or leaves it waiting on its queue id); says where it went.</summary>
    private CountedAs Count(SyslogLine syslog, MaillogMessage message, QueueEntry? entry)
    {
        if (_since is { } since && syslog.Timestamp < since)
        {
            _outside++;
            return default;
        }
        if (message.Authenticated || entry is { Authenticated: true }
            || (syslog.Pid is { } sessionPid && message.Source == EventSource.Sendmail && _authenticatedPids.TryGet((syslog.Host, sessionPid), out _)))
        {
            _authenticated++;
            return default;
        }
        _events++;

        var client = message.Client ?? entry?.Client;
        if (client is null && entry is not { Local: true } && message.Source == EventSource.Sendmail && syslog.Pid is { } pid
            && _pids.TryGet((syslog.Host, pid), out var connected))
            client = connected;

        if (client is { } found)
        {
            Activity(found).Add(message.Kind, 1, syslog.Timestamp, syslog.Timestamp);
            return new CountedAs(true, message.Kind, found.Address);
        }
        if (entry is { Local: false })
        {
            entry.AddPending(message.Kind, syslog.Timestamp);
            return new CountedAs(true, message.Kind, null);
        }
        _unattributed++;
        return default;
    }

    /// <summary>Takes back an event counted before its session turned out to be authenticated.</summary>
    private void Uncount(QueueEntry entry, CountedAs earlier)
    {
        if (!earlier.Counted)
            return;
        _events--;
        _authenticated++;
        if (earlier.Client is { } address)
            _clients[address].Remove(earlier.Kind);
        else if (!entry.RemovePending(earlier.Kind) && entry.Client is { } attributed && _clients.TryGetValue(attributed.Address, out var activity))
            activity.Remove(earlier.Kind);
    }

    private QueueEntry Queue(string host, string queueId)
    {
        if (!_queues.TryGet((host, queueId), out var entry))
        {
            entry = new QueueEntry();
            _queues.Set((host, queueId), entry);
        }
        return entry;
    }

    private ClientActivity Activity(ClientAddress client)
    {
        if (!_clients.TryGetValue(client.Address, out var activity))
        {
            activity = new ClientActivity(client.Address);
            _clients.Add(client.Address, activity);
        }
        activity.Name(client.Name, client.MayBeForged);
        return activity;
    }

    /// <summary>What is known about one queue id while its lines come in.</summary>
    private sealed class QueueEntry
    {
        private int[]? _pending;
        private DateTimeOffset _first, _last;
        private Dictionary<string, CountedAs>? _fingerprints;

        public ClientAddress? Client { get; set; }

        public bool Local { get; set; }

        /// <summary>The session of this queue id authenticated: its refusals are not abuse.</summary>
        public bool Authenticated { get; set; }

        public int PendingTotal { get; private set; }

        public void AddPending(EventKind kind, DateTimeOffset at)
        {
            _pending ??= new int[EventKinds.Count];
            if (PendingTotal == 0 || at < _first)
                _first = at;
            if (PendingTotal == 0 || at > _last)
                _last = at;
            _pending[(int)kind]++;
            PendingTotal++;
        }

        public (int Total, int[]? Counts, DateTimeOffset First, DateTimeOffset Last) TakePending()
        {
            var taken = (PendingTotal, _pending, _first, _last);
            _pending = null;
            PendingTotal = 0;
            return taken;
        }

        public bool RemovePending(EventKind kind)
        {
            if (_pending is null || _pending[(int)kind] == 0)
                return false;
            _pending[(int)kind]--;
            PendingTotal--;
            return true;
        }

        /// <summary>True when the other writer already logged this refusal; hands back how that copy was counted.</summary>
        public bool TakeOtherCopy(EventSource source, string fingerprint, out CountedAs earlier)
        {
            earlier = default;
            return _fingerprints is not null && _fingerprints.Remove(Key(source == EventSource.Sendmail ? EventSource.MilterHost : EventSource.Sendmail, fingerprint), out earlier);
        }

        public void Remember(EventSource source, string fingerprint, CountedAs counted, int limit)
        {
            _fingerprints ??= [];
            if (_fingerprints.Count < limit)
                _fingerprints[Key(source, fingerprint)] = counted;
        }

        private static string Key(EventSource source, string fingerprint) => (source == EventSource.Sendmail ? "s:" : "m:") + fingerprint;
    }
}

/// <summary>Where an event went: counted for <see cref="Client"/>, or waiting on its queue id (null); default: not counted.</summary>
internal readonly record struct CountedAs(bool Counted, EventKind Kind, IPAddress? Client);
