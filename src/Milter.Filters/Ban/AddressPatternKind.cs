namespace Milter.Filters.Ban;

/// <summary>How an <see cref="AddressPattern"/> was written.</summary>
public enum AddressPatternKind
{
    /// <summary><c>user@example.com</c>: that address, case-insensitively; <c>&lt;&gt;</c> is the null sender.</summary>
    Exact,
    /// <summary><c>*@spammer.example</c>: a wildcard over the whole address, case-insensitively.</summary>
    Glob,
    /// <summary><c>@example.com</c>: any address at exactly that domain (not its subdomains).</summary>
    Domain,
    /// <summary><c>/^bulk-.*@/i</c>: a regex searched in the address, with optional flags.</summary>
    Regex,
}
