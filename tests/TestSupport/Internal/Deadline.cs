namespace Milter.TestSupport.Internal;

/// <summary>A caller's token combined with a time bound read from the injected clock.</summary>
internal sealed class Deadline : IDisposable
{
    private readonly CancellationTokenSource _timeout;
    private readonly CancellationTokenSource _linked;

    public Deadline(TimeSpan timeout, TimeProvider time, CancellationToken cancellationToken)
    {
        _timeout = new CancellationTokenSource(timeout, time);
        _linked = CancellationTokenSource.CreateLinkedTokenSource(_timeout.Token, cancellationToken);
    }

    public CancellationToken Token => _linked.Token;

    public void Dispose()
    {
        _linked.Dispose();
        _timeout.Dispose();
    }
}
