namespace Milter.Fuzz;

/// <summary>Something the session must never do; the fuzzer records the input that caused it.</summary>
internal sealed class FuzzFinding : Exception
{
    public FuzzFinding(string message, Exception? inner = null) : base(message, inner)
    {
    }

    public FuzzFinding()
    {
    }

    public FuzzFinding(string message) : base(message)
    {
    }
}
