using System.Diagnostics;
using System.Net.Sockets;
using MilterHost.Native;

namespace MilterHost.Tests.Native;

/// <summary>The listener's checks (<see cref="FileEntry"/>) and the mailbox calls (<see cref="Posix"/>) read a file's type the same way.</summary>
public sealed class FileKindTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    [Fact]
    public async Task Every_kind_of_entry_is_named_alike_by_the_listener_checks_and_the_mailbox_calls()
    {
        File.WriteAllText(_dir.Combine("file"), "x");
        Directory.CreateDirectory(_dir.Combine("folder"));
        File.CreateSymbolicLink(_dir.Combine("link"), "/etc/passwd");
        using (var mkfifo = Process.Start("mkfifo", [_dir.Combine("fifo")]))
        {
            await mkfifo.WaitForExitAsync();
            Assert.Equal(0, mkfifo.ExitCode);
        }
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        socket.Bind(new UnixDomainSocketEndPoint(_dir.Combine("socket")));

        var expected = new Dictionary<string, FileKind>
        {
            [_dir.Combine("file")] = FileKind.Regular,
            [_dir.Combine("folder")] = FileKind.Directory,
            [_dir.Combine("link")] = FileKind.SymbolicLink,
            [_dir.Combine("fifo")] = FileKind.Fifo,
            [_dir.Combine("socket")] = FileKind.Socket,
            ["/dev/null"] = FileKind.CharacterDevice,
        };
        foreach (var (path, kind) in expected)
        {
            Assert.True(Posix.TryStatusOfPath(path, out var status), path);
            Assert.Equal((path, kind, kind), (path, FileEntry.OfPath(path).Kind, status.Kind));
        }
        Assert.Equal(FileKind.Missing, FileEntry.OfPath(_dir.Combine("nothing")).Kind);
        Assert.Equal("a FIFO", FileEntry.OfPath(_dir.Combine("fifo")).Describe(_dir.Combine("fifo")));
        Assert.Equal("a symbolic link to /etc/passwd", FileEntry.OfPath(_dir.Combine("link")).Describe(_dir.Combine("link")));
        Assert.Equal("a regular file (1 bytes)", FileEntry.OfPath(_dir.Combine("file")).Describe(_dir.Combine("file")));
    }

    [Theory]
    [InlineData(0x8000u, (int)FileKind.Regular)]
    [InlineData(0x4000u, (int)FileKind.Directory)]
    [InlineData(0xA000u, (int)FileKind.SymbolicLink)]
    [InlineData(0x1000u, (int)FileKind.Fifo)]
    [InlineData(0xC000u, (int)FileKind.Socket)]
    [InlineData(0x2000u, (int)FileKind.CharacterDevice)]
    [InlineData(0x6000u, (int)FileKind.BlockDevice)]
    [InlineData(0xE000u, (int)FileKind.Other)]
    public void The_type_bits_of_st_mode_name_the_kind_whatever_the_permission_bits(uint type, int expected)
    {
        var kind = (FileKind)expected;
        Assert.Equal(kind, FileKinds.Of(type | 0x1FF));
        Assert.Equal(kind, FileKinds.Of(type));
    }

    public void Dispose() => _dir.Dispose();
}
