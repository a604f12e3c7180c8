using System.Runtime.InteropServices;
using System.Text;

namespace Milter.TestSupport.Internal;

/// <summary>The few libc calls the harness needs and .NET does not expose.</summary>
internal static partial class LibC
{
    public const int SIGTERM = 15;
    public const int SIGKILL = 9;

    private const int O_RDONLY = 0;
    private const int O_CLOEXEC = 0x80000;

    public static bool IsRoot => geteuid() == 0;

    /// <summary>Signals a process (pid &gt; 0) or a whole process group (pid &lt; 0); false when none is left.</summary>
    public static bool Signal(int pid, int signal) => kill(pid, signal) == 0;

    /// <summary>
    /// Reads the start of a file without taking a lock. .NET takes a shared flock on every open, which
    /// fails on a file another process holds locked (sendmail locks its pid file for as long as it runs).
    /// </summary>
    public static unsafe string? ReadUnlocked(string path, int maxBytes = 4096)
    {
        var fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
        {
            return null;
        }

        try
        {
            var buffer = new byte[maxBytes];
            fixed (byte* start = buffer)
            {
                var length = read(fd, start, buffer.Length);
                return length < 0 ? null : Encoding.UTF8.GetString(buffer, 0, (int)length);
            }
        }
        finally
        {
            _ = close(fd);
        }
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial uint geteuid();

    [LibraryImport("libc", SetLastError = true)]
    private static partial int kill(int pid, int signal);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int open(string path, int flags);

    [LibraryImport("libc", SetLastError = true)]
    private static unsafe partial nint read(int fd, byte* buffer, nint count);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int close(int fd);
}
