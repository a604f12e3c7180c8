using System.Globalization;
using MilterHost.Native;

namespace MilterHost.Tests.Native;

/// <summary>
/// Dropping a mapped file's pages from the resident set (the daemon's executable after start-up): only
/// read-only mappings that hold none of the process's own pages are touched.
/// </summary>
public sealed class MappedFilePagesTests
{
    private const string Smaps = """
        55d0c3a00000-55d0c3a34000 r--p 00000000 fe:00 11739144                   /usr/bin/milterhost
        Size:                208 kB
        Rss:                 208 kB
        Anonymous:             0 kB
        VmFlags: rd mr mw me dw sd
        55d0c3a34000-55d0c4896000 r-xp 00034000 fe:00 11739144                   /usr/bin/milterhost
        Size:              14728 kB
        Rss:                6624 kB
        Anonymous:             0 kB
        VmFlags: rd ex mr mw me dw sd
        55d0c4896000-55d0c4897000 r--p 0166b000 fe:00 11739144                   /usr/bin/milterhost
        Size:                  4 kB
        Rss:                   4 kB
        Anonymous:             4 kB
        VmFlags: rd mr mw me dw ac sd
        55d0c4897000-55d0c4d70000 r--p 0166c000 fe:00 11739144                   /usr/bin/milterhost
        Size:               4964 kB
        Rss:                   0 kB
        Anonymous:             0 kB
        55d0c4d70000-55d0c4de4000 rw-p 01b47000 fe:00 11739144                   /usr/bin/milterhost
        Size:                464 kB
        Rss:                 464 kB
        Anonymous:             0 kB
        7f0000000000-7f0000100000 r-xp 00000000 fe:00 2222                       /usr/bin/milterhost (deleted)
        Rss:                 100 kB
        Anonymous:             0 kB
        7f1000000000-7f1000100000 r-xp 00000000 fe:00 3333                       /usr/lib/x86_64-linux-gnu/libc.so.6
        Rss:                 900 kB
        Anonymous:             0 kB
        7f2000000000-7f2000021000 rw-p 00000000 00:00 0                          [heap]
        Rss:                 132 kB
        Anonymous:           132 kB
        """;

    [Fact]
    public void Only_the_files_read_only_mappings_without_private_pages_and_with_pages_resident_are_dropped()
    {
        var found = MappedFilePages.Droppable(Smaps, "/usr/bin/milterhost");

        // Not: the relocated page (private), the one with nothing resident, the writable data, the
        // deleted file's, another file's, the anonymous heap.
        Assert.Equal(
            [new MappedFilePages.Mapping(0x55d0c3a00000, 0x34000, 208), new MappedFilePages.Mapping(0x55d0c3a34000, 0xe62000, 6624)],
            found);
    }

    [Fact]
    public void Nothing_matches_a_file_that_is_not_mapped() =>
        Assert.Empty(MappedFilePages.Droppable(Smaps, "/usr/bin/milter"));

    /// <summary>
    /// The runtime itself (libcoreclr.so), mapped by the loader as an executable is: its code leaves the
    /// resident set, the page the loader relocated (a private copy) stays as it is, and the process
    /// goes on calling into the library (the pages come back from the page cache).
    /// </summary>
    [Fact]
    public void A_loaded_librarys_code_leaves_the_resident_set_and_its_relocated_page_stays()
    {
        var library = File.ReadLines("/proc/self/maps").Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Where(f => f.Length >= 6 && f[5].EndsWith("/libcoreclr.so", StringComparison.Ordinal)).Select(f => f[5]).First();
        var before = Mappings(library);
        var code = Assert.Single(before, m => m.Permissions == "r-xp");
        Assert.True(code.Rss > 0);
        var relocated = before.Where(m => !m.Permissions.Contains('w', StringComparison.Ordinal) && m.Anonymous > 0).ToList();
        Assert.NotEmpty(relocated);

        var dropped = MappedFilePages.Drop(library);

        Assert.True(dropped >= code.Rss, $"dropped {dropped} kB, code had {code.Rss} kB");
        var after = Mappings(library);
        // Reading smaps calls into the library, which maps some of its code back.
        var codeAfter = Assert.Single(after, m => m.Permissions == "r-xp").Rss;
        Assert.True(codeAfter < code.Rss, $"{library}: code resident {code.Rss} kB before, {codeAfter} kB after");
        foreach (var page in relocated)
            Assert.Equal(page, Assert.Single(after, m => m.Start == page.Start));
        Assert.True(File.Exists(library)); // one more call through the library's dropped code
    }

    private sealed record Mapped(string Start, string Permissions, long Rss, long Anonymous);

    private static List<Mapped> Mappings(string path)
    {
        var result = new List<Mapped>();
        string? start = null, permissions = null;
        long rss = 0;
        foreach (var line in File.ReadAllLines("/proc/self/smaps"))
        {
            var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length >= 5 && fields[0].Contains('-', StringComparison.Ordinal) && !fields[0].EndsWith(':'))
            {
                start = fields.Length >= 6 && fields[5] == path ? fields[0] : null;
                permissions = fields[1];
            }
            else if (start is not null && fields[0] == "Rss:")
            {
                rss = long.Parse(fields[1], CultureInfo.InvariantCulture);
            }
            else if (start is not null && fields[0] == "Anonymous:")
            {
                result.Add(new Mapped(start, permissions!, rss, long.Parse(fields[1], CultureInfo.InvariantCulture)));
            }
        }
        return result;
    }
}
