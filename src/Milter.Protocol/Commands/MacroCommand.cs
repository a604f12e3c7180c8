namespace Milter.Protocol.Commands;

/// <summary>SMFIC_MACRO: the macros for the command letter <paramref name="Stage"/> that follows.</summary>
public sealed record MacroCommand(char Stage, IReadOnlyList<KeyValuePair<string, string>> Macros);
