namespace Milter.Protocol.Session;

/// <summary>
/// The macros an MTA sent on one connection, kept per stage (the command letter of the MACRO
/// packet: C H M R T L N E U). A later stage's value for a name wins over an earlier one's. A new
/// MACRO packet for a stage replaces that stage's set; ABORT and a new MAIL clear the message
/// stages; QUIT_NC clears everything. Names are stored without braces: <c>{client_addr}</c> and
/// <c>client_addr</c> find the same value.
/// </summary>
public sealed class MacroTable
{
    // Stage letters in lookup order: latest stage first.
    private const string LookupOrder = "EBNLTRMHCU";
    private readonly Dictionary<string, string>?[] _stages = new Dictionary<string, string>?[LookupOrder.Length];

    /// <summary>Total number of name/value pairs held (bounded by the session's limits).</summary>
    public int Count { get; private set; }

    /// <summary>The value of a macro, looked up from the latest stage back, or null when not sent.</summary>
    public string? Get(string name)
    {
        foreach (var stage in _stages)
        {
            if (stage is not null && stage.TryGetValue(name, out var v))
                return v;
        }
        return null;
    }

    public string? this[string name] => Get(name);

    /// <summary>Replaces the set of macros for one stage letter.</summary>
    public void SetStage(char stage, IEnumerable<KeyValuePair<string, string>> pairs)
    {
        var i = IndexOf(stage);
        if (i < 0) return; // a stage letter we do not know: tolerated, ignored
        Count -= _stages[i]?.Count ?? 0;
        var d = _stages[i] ?? new Dictionary<string, string>(BracelessName.Instance);
        d.Clear();
        if (pairs is List<KeyValuePair<string, string>> list)
        {
            // The session's scratch list: its struct enumerator, no boxing per MACRO packet.
            foreach (var (k, v) in list)
                d[k] = v;
        }
        else
        {
            foreach (var (k, v) in pairs)
                d[k] = v;
        }
        _stages[i] = d;
        Count += d.Count;
    }

    /// <summary>Forgets the macros of the message stages (MAIL onwards): ABORT, or a new message.</summary>
    public void ClearMessage()
    {
        foreach (var c in "MRTLNEB") Clear(c);
    }

    /// <summary>Forgets every macro: QUIT_NC starts a new SMTP session.</summary>
    public void ClearAll()
    {
        foreach (var c in LookupOrder) Clear(c);
    }

    /// <summary>Forgets one stage's macros (the RCPT set is replaced per recipient).</summary>
    public void Clear(char stage)
    {
        var i = IndexOf(stage);
        if (i < 0 || _stages[i] is not { } d) return;
        Count -= d.Count;
        d.Clear();
    }

    /// <summary>All macros currently visible, latest stage winning.</summary>
    public IReadOnlyDictionary<string, string> Snapshot()
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = _stages.Length - 1; i >= 0; i--)
        {
            if (_stages[i] is { } d)
                foreach (var (k, v) in d) result[Normalize(k)] = v;
        }
        return result;
    }

    private static int IndexOf(char stage) => LookupOrder.IndexOf(stage);

    private static string Normalize(string name) => Bare(name) is var bare && bare.Length == name.Length ? name : bare.ToString();

    private static ReadOnlySpan<char> Bare(string name) =>
        name.Length > 2 && name[0] == '{' && name[^1] == '}' ? name.AsSpan(1, name.Length - 2) : name;

    /// <summary>Names compared without their braces, so neither storing nor looking up makes a new string.</summary>
    private sealed class BracelessName : IEqualityComparer<string>
    {
        public static readonly BracelessName Instance = new();

        public bool Equals(string? x, string? y) =>
            ReferenceEquals(x, y) || (x is not null && y is not null && Bare(x).SequenceEqual(Bare(y)));

        public int GetHashCode(string obj) => string.GetHashCode(Bare(obj));
    }
}
