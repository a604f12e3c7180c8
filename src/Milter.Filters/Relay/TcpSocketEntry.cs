using System.Net;

namespace Milter.Filters.Relay;

/// <summary>One socket of the kernel's TCP table: its two ends, its state (1 is ESTABLISHED) and its owner's uid.</summary>
public readonly record struct TcpSocketEntry(IPEndPoint Local, IPEndPoint Remote, int State, uint Uid);
