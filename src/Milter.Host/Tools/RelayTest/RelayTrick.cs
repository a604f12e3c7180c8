namespace MilterHost.Tools.RelayTest;

/// <summary>One relay attempt: the envelope an attacker would try. Addresses are written without angle brackets; "" is the null sender.</summary>
public sealed record RelayTrick(string Name, string MailFrom, string RcptTo);
