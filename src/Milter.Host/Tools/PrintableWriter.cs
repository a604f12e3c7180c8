using System.Text;
using MilterHost.Logging;

namespace MilterHost.Tools;

/// <summary>
/// The commands' standard output and error as an administrator's terminal receives them: whatever
/// passes is written through <see cref="PrintableText"/>, keeping only the program's own line feeds,
/// so that a stored address, a DNS answer or a name in the mail spool cannot send escape sequences
/// to the terminal (recolour it, retitle it, rewrite a line with CR or backspaces). Table cells and
/// one-line values are escaped where they are made, line feeds included (<see cref="TextTable"/>);
/// this catches the rest. JSON output passes unchanged: its writer escapes control characters itself.
/// </summary>
internal sealed class PrintableWriter(TextWriter inner) : TextWriter
{
    public override Encoding Encoding => inner.Encoding;

    [System.Diagnostics.CodeAnalysis.AllowNull]
    public override string NewLine
    {
        get => inner.NewLine;
        set => inner.NewLine = value;
    }

    public override void Write(char value)
    {
        if (PrintableText.IsUnsafe(value) && value != '\n' && !char.IsSurrogate(value))
            inner.Write(PrintableText.Of(value.ToString()));
        else
            inner.Write(value);
    }

    public override void Write(string? value)
    {
        if (value is not null)
            inner.Write(PrintableText.Of(value, keepLineFeeds: true));
    }

    public override void Write(char[] buffer, int index, int count) => Write(new string(buffer, index, count));

    public override void Write(ReadOnlySpan<char> buffer) => Write(new string(buffer));

    public override void WriteLine(string? value)
    {
        Write(value);
        inner.WriteLine();
    }

    public override void WriteLine() => inner.WriteLine();

    // In order and on the caller's thread, as the console writes them.
    public override Task WriteAsync(string? value)
    {
        Write(value);
        return Task.CompletedTask;
    }

    public override Task WriteLineAsync(string? value)
    {
        WriteLine(value);
        return Task.CompletedTask;
    }

    public override Task WriteLineAsync()
    {
        WriteLine();
        return Task.CompletedTask;
    }

    public override void Flush() => inner.Flush();

    public override Task FlushAsync() => inner.FlushAsync();
}
