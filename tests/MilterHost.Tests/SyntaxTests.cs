using System.Net;
using System.Net.Sockets;
using MilterHost.Configuration;

namespace MilterHost.Tests;

/// <summary>The value syntaxes shared by the config file and the command line.</summary>
public sealed class SyntaxTests
{
    [Theory]
    [InlineData("500ms", 500)]
    [InlineData("90s", 90_000)]
    [InlineData("2m", 120_000)]
    [InlineData("4h", 14_400_000)]
    [InlineData("36d", 3_110_400_000)]
    [InlineData("1h30m", 5_400_000)]
    [InlineData("0s", 0)]
    public void Duration_parses_number_and_unit(string text, long milliseconds)
    {
        Assert.True(Duration.TryParse(text, out var value, out var error), error);
        Assert.Equal(TimeSpan.FromMilliseconds(milliseconds), value);
    }

    [Theory]
    [InlineData(90_000, "90s")]
    [InlineData(120_000, "2m")]
    [InlineData(5_400_000, "90m")]
    [InlineData(86_400_000, "1d")]
    [InlineData(1_500, "1500ms")]
    [InlineData(0, "0s")]
    public void Duration_formats_in_the_largest_exact_unit(long milliseconds, string expected) =>
        Assert.Equal(expected, Duration.Format(TimeSpan.FromMilliseconds(milliseconds)));

    [Theory]
    [InlineData("192.0.2.77/24", "192.0.2.0/24")]
    [InlineData("192.0.2.77", "192.0.2.77/32")]
    [InlineData("2001:db8::1", "2001:db8::1/128")]
    [InlineData("2001:db8:1:2::5/48", "2001:db8:1::/48")]
    [InlineData("0.0.0.0/0", "0.0.0.0/0")]
    public void Network_clears_host_bits_and_takes_a_bare_address_as_one_host(string text, string expected)
    {
        Assert.True(NetworkSyntax.TryParse(text, out var network, out var error), error);
        Assert.Equal(IPNetwork.Parse(expected), network);
    }

    [Theory]
    [InlineData("1")]
    [InlineData("0x7f000001")]
    [InlineData("fe80::1%eth0")]
    [InlineData("192.0.2.0/-1")]
    [InlineData("")]
    public void Network_refuses_what_IPAddress_would_guess_at(string text) =>
        Assert.False(NetworkSyntax.TryParse(text, out _, out _));

    [Theory]
    [InlineData("unix:/run/milterhost/milter.sock", "unix:/run/milterhost/milter.sock")]
    [InlineData("local:/run/m.sock", "unix:/run/m.sock")]
    [InlineData("unix:m.sock", "unix:/etc/milterhost/m.sock")]
    [InlineData("inet:8891@127.0.0.1", "inet:8891@127.0.0.1")]
    [InlineData("inet:8891@localhost", "inet:8891@localhost")]
    [InlineData("inet:8891", "inet:8891@127.0.0.1")]
    [InlineData("inet6:8891", "inet6:8891@[::1]")]
    [InlineData("inet:8891@0.0.0.0", "inet:8891@0.0.0.0")]
    [InlineData("inet6:8891@[::]", "inet6:8891@[::]")]
    [InlineData("inet6:8891@[::1]", "inet6:8891@[::1]")]
    [InlineData("inet6:8891@::1", "inet6:8891@[::1]")]
    [InlineData("inet6:8891@[2001:DB8::1]", "inet6:8891@[2001:db8::1]")]
    public void Listen_address_takes_sendmail_forms_and_prints_one_spelling(string text, string canonical)
    {
        Assert.True(ListenAddress.TryParse(text, "/etc/milterhost", out var address, out var error), error);
        Assert.Equal(canonical, address!.ToString());
        Assert.Equal(address, ListenAddress.Parse(canonical));
    }

    [Fact]
    public void Listen_address_gives_the_endpoint_to_bind()
    {
        Assert.Equal(new UnixDomainSocketEndPoint("/run/m.sock"), ListenAddress.Parse("unix:/run/m.sock").ToEndPoint());
        Assert.Equal(new IPEndPoint(IPAddress.Loopback, 8891), ListenAddress.Parse("inet:8891@127.0.0.1").ToEndPoint());
        Assert.Equal(new IPEndPoint(IPAddress.Loopback, 8891), ListenAddress.Parse("inet:8891").ToEndPoint());
        Assert.Equal(new IPEndPoint(IPAddress.IPv6Loopback, 8891), ListenAddress.Parse("inet6:8891").ToEndPoint());
        Assert.Equal(new IPEndPoint(IPAddress.Any, 8891), ListenAddress.Parse("inet:8891@0.0.0.0").ToEndPoint());
        Assert.Equal(new IPEndPoint(IPAddress.IPv6Any, 8891), ListenAddress.Parse("inet6:8891@[::]").ToEndPoint());
        Assert.Equal(new DnsEndPoint("localhost", 8891, AddressFamily.InterNetwork), ListenAddress.Parse("inet:8891@localhost").ToEndPoint());
    }

    [Fact]
    public void Listen_address_parse_throws_with_the_reason()
    {
        var ex = Assert.Throws<FormatException>(() => ListenAddress.Parse("inet:0@127.0.0.1"));
        Assert.Equal("'inet:0@127.0.0.1' has no valid port; write inet:PORT@HOST, e.g. inet:8891@127.0.0.1 (port 1-65535)", ex.Message);
    }

    [Fact]
    public void Database_address_resolves_sqlite_paths_and_keeps_postgres_strings()
    {
        var sqlite = DatabaseAddress.Parse("sqlite:db/milter.db", "/var/lib/milterhost");
        Assert.Equal((DatabaseKind.Sqlite, "/var/lib/milterhost/db/milter.db"), (sqlite.Kind, sqlite.Target));
        var postgres = DatabaseAddress.Parse("postgres:Host=db;Database=milter;Password=x");
        Assert.Equal((DatabaseKind.Postgres, "Host=db;Database=milter;Password=x"), (postgres.Kind, postgres.Target));
        Assert.Equal("postgres:host=db;database=milter;password=********", postgres.ToDisplayString());
        Assert.Equal("sqlite:/var/lib/milterhost/db/milter.db", sqlite.ToDisplayString());
    }

    [Theory]
    [InlineData("null")]
    [InlineData("yes")]
    [InlineData("0660")]
    [InlineData("1e3")]
    [InlineData("12:30")]
    [InlineData("*.example.net")]
    [InlineData("[192.0.2.1]")]
    [InlineData("a: b")]
    [InlineData("#hash")]
    [InlineData("it's")]
    public void Text_that_looks_like_another_type_prints_quoted_and_reads_back_as_text(string helo)
    {
        var options = new DaemonOptions
        {
            Ban = [new Milter.Filters.Configuration.BanRule { Kind = Milter.Filters.Configuration.BanKind.Helo, Pattern = helo }],
        };
        var printed = EffectiveConfig.ToYaml(options);
        var reread = ConfigLoader.Parse(printed, "printed.yaml", "/");
        Assert.True(reread.Success, string.Join("\n", reread.Errors) + "\n" + printed);
        Assert.Equal(helo, Assert.Single(reread.Config.Options.Ban).Pattern);
    }
}
