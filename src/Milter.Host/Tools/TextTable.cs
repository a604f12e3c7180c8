namespace MilterHost.Tools;

/// <summary>
/// An aligned plain-text table, the human output of the listing commands. Cells hold what clients
/// sent (addresses, names), so each is made printable (<see cref="Logging.PrintableText"/>), its line
/// feeds included: a row stays one line, whatever a cell holds.
/// </summary>
internal sealed class TextTable(params string[] headers)
{
    private readonly List<string[]> _rows = [];
    private readonly HashSet<int> _rightAligned = [];

    /// <summary>Numbers read best right-aligned.</summary>
    public TextTable AlignRight(params int[] columns)
    {
        _rightAligned.UnionWith(columns);
        return this;
    }

    public void Add(params string[] cells)
    {
        if (cells.Length != headers.Length)
            throw new ArgumentException($"expected {headers.Length} cells, got {cells.Length}", nameof(cells));
        _rows.Add(Array.ConvertAll(cells, Logging.PrintableText.Of));
    }

    public void WriteTo(TextWriter output)
    {
        var widths = headers.Select((h, i) => _rows.Select(r => r[i].Length).Prepend(h.Length).Max()).ToArray();
        WriteRow(headers);
        foreach (var row in _rows)
            WriteRow(row);

        void WriteRow(string[] cells)
        {
            var parts = cells.Select((c, i) => i == cells.Length - 1 && !_rightAligned.Contains(i)
                ? c
                : _rightAligned.Contains(i) ? c.PadLeft(widths[i]) : c.PadRight(widths[i]));
            output.WriteLine(string.Join("  ", parts).TrimEnd());
        }
    }
}
