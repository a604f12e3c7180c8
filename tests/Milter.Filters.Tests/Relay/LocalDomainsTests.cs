using Milter.Filters.Relay;
using Milter.Filters.Tests.Support;

namespace Milter.Filters.Tests.Relay;

public sealed class LocalDomainsTests
{
    private static readonly LocalDomains Domains = new(["example.com", "Mixed.Example.ORG", ".hosted.example", "trailing.example.", "[192.0.2.25]"]);

    [Theory]
    [InlineData("example.com", true)]
    [InlineData("EXAMPLE.COM", true)]
    [InlineData("example.com.", true)]
    [InlineData("mixed.example.org", true)]
    [InlineData("trailing.example", true)]
    [InlineData("sub.example.com", false)]        // exact names do not cover subdomains
    [InlineData("a.hosted.example", true)]        // .suffix covers subdomains at any depth
    [InlineData("b.a.hosted.example", true)]
    [InlineData("hosted.example", false)]         // ... but not the domain itself
    [InlineData("xhosted.example", false)]
    [InlineData("example.com.evil.example", false)]
    [InlineData("evilexample.com", false)]
    [InlineData("[192.0.2.25]", true)]            // a literal only when listed
    [InlineData("[192.0.2.26]", false)]
    [InlineData("", false)]
    [InlineData(null, false)]
    public void Matches_case_insensitively_with_subdomains_only_for_dot_entries(string? domain, bool local) =>
        Assert.Equal(local, Domains.Contains(domain));

    [Theory]
    [InlineData("\u212Aelvin.example")]          // KELVIN SIGN: lower-cases to "k" under Unicode rules
    [InlineData("\u0131nfo.example")]            // dotless i: upper-cases to "I" under Unicode rules
    [InlineData("\u0130NFO.example")]            // dotted capital I: lower-cases to "i"
    [InlineData("a.\u212Aelvin.example")]
    public void A_non_ascii_name_never_matches_an_ascii_local_domain(string domain)
    {
        var domains = new LocalDomains(["kelvin.example", "info.example", ".kelvin.example"]);

        Assert.False(domains.Contains(domain));
    }

    [Fact]
    public void Reads_local_host_names_files_with_comments_and_blank_lines()
    {
        using var dir = new TempDirectory();
        dir.Write("local-host-names", """
            # local-host-names - include all aliases for your machine here.
            example.com
              mail.example.com   # the MX itself

            other.example  third.example
            .sub.example
            """);

        var domains = LocalDomains.Load(["listed.example", "file:local-host-names"], dir.Path);

        Assert.Equal(["example.com", "listed.example", "mail.example.com", "other.example", "third.example", ".sub.example"], domains.Entries);
        Assert.True(domains.Contains("x.sub.example"));
        Assert.False(domains.Contains("#"));
    }

    [Fact]
    public void A_missing_file_is_a_clear_error()
    {
        using var dir = new TempDirectory();
        var ex = Assert.Throws<IOException>(() => LocalDomains.Load(["file:nope"], dir.Path));
        Assert.Contains(Path.Combine(dir.Path, "nope"), ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_bad_name_in_a_file_is_reported_with_its_line()
    {
        using var dir = new TempDirectory();
        var path = dir.Write("lhn", "example.com\nuser@example.com\n");
        var ex = Assert.Throws<FormatException>(() => LocalDomains.Load([$"file:{path}"], "/"));
        Assert.StartsWith($"{path}:2: 'user@example.com'", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("exa mple.com")]
    [InlineData("a..b")]
    [InlineData("[192.0.2.1")]
    public void A_bad_entry_is_refused(string entry) =>
        Assert.Throws<FormatException>(() => new LocalDomains([entry]));
}
