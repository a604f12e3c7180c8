namespace MilterHost.Configuration;

/// <summary>"Did you mean" for misspelt keys and values.</summary>
internal static class Suggest
{
    /// <summary>The known word nearest to <paramref name="written"/>, if it is close enough to be a typo.</summary>
    public static string? Closest(string written, IEnumerable<string> known)
    {
        string? best = null;
        var bestDistance = int.MaxValue;
        foreach (var candidate in known)
        {
            var d = Distance(written.ToLowerInvariant(), candidate);
            if (d < bestDistance)
            {
                best = candidate;
                bestDistance = d;
            }
        }
        // Two edits catch transpositions and a dropped letter without proposing unrelated words.
        return bestDistance <= Math.Min(2, Math.Max(1, written.Length / 3)) ? best : null;
    }

    private static int Distance(string a, string b)
    {
        var previous = new int[b.Length + 1];
        var current = new int[b.Length + 1];
        for (var j = 0; j <= b.Length; j++)
            previous[j] = j;
        for (var i = 1; i <= a.Length; i++)
        {
            current[0] = i;
            for (var j = 1; j <= b.Length; j++)
                current[j] = Math.Min(Math.Min(current[j - 1] + 1, previous[j] + 1), previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1));
            (previous, current) = (current, previous);
        }
        return previous[b.Length];
    }
}
