namespace MilterHost.Configuration;

/// <summary>
/// One problem in a configuration file, printed the way compilers do (<c>file:line:column: message</c>)
/// so editors and <c>grep</c> can jump to it. Line and column are 1-based; 0 means the problem is
/// with the file as a whole (it cannot be read), and then only <c>file: message</c> is printed.
/// </summary>
public sealed record ConfigError(string File, int Line, int Column, string Message)
{
    public override string ToString() =>
        Line > 0 ? $"{File}:{Line}:{Column}: {Message}" : $"{File}: {Message}";
}
