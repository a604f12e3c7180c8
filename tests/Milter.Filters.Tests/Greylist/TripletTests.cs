using System.Net;
using Milter.Filters.Configuration;
using Milter.Filters.Greylist;

namespace Milter.Filters.Tests.Greylist;

public class TripletTests
{
    [Theory]
    [InlineData("Alice@Example.COM", "alice@example.com")]
    [InlineData("<alice@example.com>", "alice@example.com")]
    [InlineData("", "")]
    [InlineData("<>", "")]
    [InlineData("prvs=1234abcdef=alice@example.com", "alice@example.com")]
    [InlineData("PRVS=0395d0abc=Alice@Example.com", "alice@example.com")]
    [InlineData("btv1==0153d8cd9ba==alice@example.com", "alice@example.com")]
    [InlineData("msprvs1=18008j3Hk_y8v=alice@bounces.example", "alice@bounces.example")]
    [InlineData("SRS0=Kjsf=5O=citrix.com=andrew@srs.forwarder.example", "andrew@citrix.com")]
    [InlineData("SRS0+Kjsf=5O=citrix.com=andrew@srs.forwarder.example", "andrew@citrix.com")]
    [InlineData("SRS0=Kjsf=5O=citrix.com=prvs=374a1453b=Andrew.Cooper3@srs-se1.protection.inumbo.net", "andrew.cooper3@citrix.com")]
    [InlineData("SRS1=HHHH=first.example==HHHH=TT=orig.example=alice@second.example", "alice@orig.example")]
    [InlineData("alice+lists@example.com", "alice@example.com")]
    [InlineData("bounce-12345@lists.example", "bounce-#@lists.example")]
    [InlineData("list-bounces-2026-17@lists.example", "list-bounces-#-#@lists.example")]
    [InlineData("user123@example.com", "user123@example.com")]
    [InlineData("prvs=notag@example.com", "prvs=notag@example.com")]
    [InlineData("SRS0=broken@forwarder.example", "srs0=broken@forwarder.example")]
    [InlineData("bounce-\u0663\u0664@lists.example", "bounce-#@lists.example")] // \d is any decimal digit, Arabic-Indic too
    [InlineData("+alice@example.com", "+alice@example.com")] // a plus first is no +detail
    [InlineData("alice@mx1.example.com", "alice@mx1.example.com")] // numbers in the domain stay
    [InlineData("alice@example.com.", "alice@example.com.")]
    public void Sender_is_normalised_to_the_address_that_stays_the_same_across_retries(string written, string key)
    {
        var triplet = Triplet.Create("net:203.0.113.0/24", written, "bob@example.net");

        Assert.Equal(key, triplet.Sender);
    }

    [Fact]
    public void A_sender_already_in_its_normal_form_is_its_own_key()
    {
        const string written = "alice@example.com";
        var triplet = Triplet.Create("net:203.0.113.0/24", written, "bob@example.net");

        Assert.Same(written, triplet.Sender);
    }

    [Fact]
    public void Recipient_is_lowercased_but_keeps_its_detail()
    {
        var triplet = Triplet.Create("net:203.0.113.0/24", "alice@example.com", "<Bob+Tag@Example.NET>");

        Assert.Equal("bob+tag@example.net", triplet.Recipient);
    }

    [Fact]
    public void Null_sender_has_no_domain_and_is_flagged()
    {
        var triplet = Triplet.Create("net:203.0.113.0/24", "<>", "bob@example.net");

        Assert.True(triplet.IsNullSender);
        Assert.Equal("", triplet.SenderDomain);
        Assert.Equal("net:203.0.113.0/24 <> <bob@example.net>", triplet.ToString());
    }

    [Fact]
    public void Sender_domain_is_taken_after_stripping()
    {
        var triplet = Triplet.Create("net:203.0.113.0/24", "SRS0=h=tt=Orig.Example=alice@fwd.example", "bob@example.net");

        Assert.Equal("orig.example", triplet.SenderDomain);
    }

    [Theory]
    [InlineData("203.0.113.77", "net:203.0.113.0/24")]
    [InlineData("::ffff:203.0.113.77", "net:203.0.113.0/24")]
    [InlineData("2001:db8:1:2:3:4:5:6", "net:2001:db8:1:2::/64")]
    [InlineData("127.0.0.1", "net:127.0.0.0/24")]
    public void Client_key_is_the_configured_subnet(string address, string key)
    {
        Assert.Equal(key, ClientKey.ForAddress(IPAddress.Parse(address), new SubnetOptions()));
    }

    [Fact]
    public void Client_key_follows_configured_prefix_lengths()
    {
        var subnet = new SubnetOptions { Ipv4 = 32, Ipv6 = 48 };

        Assert.Equal("net:203.0.113.77/32", ClientKey.ForAddress(IPAddress.Parse("203.0.113.77"), subnet));
        Assert.Equal("net:2001:db8:1::/48", ClientKey.ForAddress(IPAddress.Parse("2001:db8:1:2::9"), subnet));
    }

    [Fact]
    public void Spf_key_names_the_domain()
    {
        Assert.Equal("spf:example.org", ClientKey.ForSpfDomain(" Example.ORG. "));
        Assert.False(ClientKey.TryGetNetwork("spf:example.org", out _));
    }

    [Fact]
    public void Network_is_read_back_from_a_subnet_key()
    {
        Assert.True(ClientKey.TryGetNetwork("net:203.0.113.0/24", out var network));
        Assert.Equal(IPNetwork.Parse("203.0.113.0/24"), network);
    }
}
