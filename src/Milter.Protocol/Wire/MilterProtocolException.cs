namespace Milter.Protocol.Wire;

/// <summary>Bad input from the peer: the session logs it once and closes that connection.</summary>
public sealed class MilterProtocolException : Exception
{
    public MilterProtocolException(ProtocolViolation violation, string detail)
        : base($"{violation}: {detail}")
    {
        Violation = violation;
        Detail = detail;
    }

    public ProtocolViolation Violation { get; }

    public string Detail { get; }
}
