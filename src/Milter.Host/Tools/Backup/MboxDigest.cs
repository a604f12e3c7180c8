using System.Security.Cryptography;

namespace MilterHost.Tools.Backup;

/// <summary>Bytes, messages and sha256 of an mbox, taken as it streams by: for the copy and for --verify alike.</summary>
internal sealed class MboxDigest : IDisposable
{
    private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    private readonly MboxMessageCounter _counter = new();

    public long Bytes { get; private set; }

    public void Append(ReadOnlySpan<byte> data)
    {
        _hash.AppendData(data);
        _counter.Append(data);
        Bytes += data.Length;
    }

    public (long Messages, long Bytes, string Sha256) Complete() =>
        (_counter.Complete(), Bytes, Convert.ToHexStringLower(_hash.GetHashAndReset()));

    public void Dispose() => _hash.Dispose();
}
