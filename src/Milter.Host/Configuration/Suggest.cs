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

    // Optimal string alignment distance: insertions, deletions, substitutions and swaps of
    // neighbours ("dealy" for "delay") each count one.
    private static int Distance(string a, string b)
    {
        var d = new int[a.Length + 1, b.Length + 1];
        for (var i = 0; i <= a.Length; i++)
            d[i, 0] = i;
        for (var j = 0; j <= b.Length; j++)
            d[0, j] = j;
        for (var i = 1; i <= a.Length; i++)
        {
            for (var j = 1; j <= b.Length; j++)
            {
                var cost = a[i - 1] == b[j - 1] ? 0 : 1;
                d[i, j] = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + cost);
                if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                    d[i, j] = Math.Min(d[i, j], d[i - 2, j - 2] + 1);
            }
        }
        return d[a.Length, b.Length];
    }
}
