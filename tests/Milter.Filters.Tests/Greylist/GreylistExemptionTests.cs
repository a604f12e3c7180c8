using System.Net;
using Milter.Filters.Configuration;
using Milter.Filters.Context;
using Milter.Filters.Greylist;

namespace Milter.Filters.Tests.Greylist;

public sealed class GreylistExemptionTests
{
    private static readonly IPNetwork[] RelayClients = [IPNetwork.Parse("203.0.113.0/28")];

    private static GreylistExemption Exemption(GreylistSkipOptions? skip = null) =>
        new(new GreylistOptions { Skip = skip ?? new GreylistSkipOptions() }, RelayClients);

    private static SessionContext Client(string address, string? sender = "someone@outside.example") =>
        new() { ClientAddress = IPAddress.Parse(address), Sender = sender };

    [Fact]
    public void A_stranger_is_greylisted()
    {
        Assert.Null(Exemption().Of(Client("198.51.100.9"), "alice@example.com"));
    }

    [Fact]
    public void Local_submissions_and_sessions_without_a_client_address_are_exempt()
    {
        Assert.Equal("local submission", Exemption().OfSession(new SessionContext { IsLocalSubmission = true }));
        Assert.Equal("no client address", Exemption().OfSession(new SessionContext()));
    }

    [Fact]
    public void Authenticated_sessions_are_exempt_only_while_skip_authenticated()
    {
        var session = Client("198.51.100.9");
        session.AuthenticatedUser = "alice";
        Assert.Equal("authenticated", Exemption().OfSession(session));
        Assert.Null(Exemption(new GreylistSkipOptions { Authenticated = false }).OfSession(session));
    }

    [Fact]
    public void Relay_clients_and_skip_clients_are_exempt_with_their_network()
    {
        var skip = new GreylistSkipOptions { Clients = [IPNetwork.Parse("192.0.2.0/24")] };
        Assert.Equal("trusted client 203.0.113.0/28", Exemption(skip).OfSession(Client("203.0.113.5")));
        Assert.Equal("trusted client 192.0.2.0/24", Exemption(skip).OfSession(Client("192.0.2.77")));
    }

    [Fact]
    public void Sender_skips_match_the_sender_as_keyed_but_only_per_recipient()
    {
        var exemption = Exemption(new GreylistSkipOptions { Senders = ["news@partner.example"] });
        var session = Client("198.51.100.9", "prvs=1234abcd=news@partner.example");

        Assert.Equal("greylist.skip.senders", exemption.Of(session, "alice@example.com"));
        Assert.Null(exemption.OfSession(session));
    }

    [Fact]
    public void Recipient_skips_match_that_recipient_only()
    {
        var exemption = Exemption(new GreylistSkipOptions { Recipients = ["postmaster@example.com"] });
        var session = Client("198.51.100.9");

        Assert.Equal("greylist.skip.recipients", exemption.Of(session, "postmaster@example.com"));
        Assert.Null(exemption.Of(session, "alice@example.com"));
    }
}
