namespace Milter.Filters;

/// <summary>The stage names a <see cref="Decision"/> carries, as the log line and <c>simulate</c> print them.</summary>
public static class DecisionStage
{
    public const string Connect = "connect";
    public const string Helo = "helo";
    public const string Mail = "mail";
    public const string Rcpt = "rcpt";
    public const string Data = "data";
    public const string Header = "header";
    public const string EndOfHeaders = "eoh";
    public const string EndOfMessage = "eom";
    public const string Abort = "abort";
    public const string Close = "close";
}
