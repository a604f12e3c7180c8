using Milter.Protocol.Negotiation;

namespace Milter.Filters;

/// <summary>
/// The stage names, one table for the decision log line, <c>simulate</c>, the <c>stage</c> label of
/// /metrics, and the stage of a <see cref="MilterStages"/> flag the negotiation speaks of.
/// </summary>
public static class DecisionStage
{
    public const string Connect = "connect";
    public const string Helo = "helo";
    public const string Mail = "mail";
    public const string Rcpt = "rcpt";
    public const string Data = "data";
    public const string Header = "header";
    public const string EndOfHeaders = "eoh";
    public const string Body = "body";
    public const string EndOfMessage = "eom";
    public const string Abort = "abort";
    public const string Close = "close";

    /// <summary>Every stage, in the order of a session.</summary>
    public static IReadOnlyList<string> All { get; } = [Connect, Helo, Mail, Rcpt, Data, Header, EndOfHeaders, Body, EndOfMessage, Abort, Close];

    /// <summary>The name of one negotiated stage; null for none or several.</summary>
    public static string? Of(MilterStages stage) => stage switch
    {
        MilterStages.Connect => Connect,
        MilterStages.Helo => Helo,
        MilterStages.Mail => Mail,
        MilterStages.Rcpt => Rcpt,
        MilterStages.Data => Data,
        MilterStages.Header => Header,
        MilterStages.EndOfHeaders => EndOfHeaders,
        MilterStages.Body => Body,
        MilterStages.EndOfMessage => EndOfMessage,
        _ => null,
    };
}
