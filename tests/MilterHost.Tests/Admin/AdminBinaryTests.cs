using System.Net;
using System.Text.Json;
using Milter.Filters.Greylist;
using Milter.TestSupport;

namespace MilterHost.Tests.Admin;

/// <summary>The greylist and ban commands through the built milterhost binary, as a postmaster types them.</summary>
public sealed class AdminBinaryTests : IDisposable
{
    private readonly AdminRun _run = new();

    public void Dispose() => _run.Dispose();

    private Task<(int ExitCode, string StdOut, string StdErr)> RunAsync(params string[] args) =>
        MilterHostProcess.RunToEndAsync([.. args, "--config", _run.ConfigPath]);

    [Fact]
    public async Task Every_greylist_and_ban_command_works_through_the_binary()
    {
        var banAdd = await RunAsync("ban", "add", "203.0.113.0/24", "--for", "2h", "--reason", "binary test");
        var banList = await RunAsync("ban", "list", "--json");
        var allow = await RunAsync("greylist", "allow", "@partner.example");
        var list = await RunAsync("greylist", "list", "--whitelisted", "--sender", "@partner.example");
        var stats = await RunAsync("greylist", "stats", "--json");
        var removeTriplets = await RunAsync("greylist", "remove", "--client", "203.0.113.0/24");
        var purge = await RunAsync("greylist", "purge");
        var disallow = await RunAsync("greylist", "remove", "partner.example");
        var banRemove = await RunAsync("ban", "remove", "203.0.113.0/24");
        var banRemoveAgain = await RunAsync("ban", "remove", "203.0.113.0/24");

        Assert.Equal(0, banAdd.ExitCode);
        Assert.StartsWith("Banned 203.0.113.0/24 until ", banAdd.StdOut, StringComparison.Ordinal);
        Assert.EndsWith(" (2h).\n", banAdd.StdOut, StringComparison.Ordinal);
        using (var json = JsonDocument.Parse(banList.StdOut))
        {
            var ban = Assert.Single(json.RootElement.GetProperty("bans").EnumerateArray());
            Assert.Equal(("203.0.113.0/24", "binary test"), (ban.GetProperty("network").GetString(), ban.GetProperty("reason").GetString()));
        }
        Assert.Equal((0, "Allowed sender domain partner.example until removed.\n", ""), allow);
        Assert.Equal(0, list.ExitCode);
        Assert.Matches(@"^Auto-whitelist: none\.\n\nAllowed by the admin: 1\nKIND +VALUE +CREATED +EXPIRES +REASON\nsender domain +partner\.example +[-0-9: ]+ +never +added by ", list.StdOut);
        using (var json = JsonDocument.Parse(stats.StdOut))
            Assert.Equal(1, json.RootElement.GetProperty("allowed").GetInt32());
        Assert.Equal((0, "Removed 0 triplet(s) and 0 auto-whitelist entries.\n", ""), removeTriplets);
        Assert.Equal((0, "Purged 0 expired row(s).\n", ""), purge);
        Assert.Equal((0, "Removed the allow entry for sender domain partner.example.\n", ""), disallow);
        Assert.Equal((0, "Removed the ban of 203.0.113.0/24.\n", ""), banRemove);
        Assert.Equal((1, "", "ban remove: no ban for 203.0.113.0/24\n"), banRemoveAgain);
    }

    [Theory]
    [InlineData("ban add 192.0.2.1", 0)]
    // stats and simulate too (found in review: they created the database as root, 0644, and the daemon could then not write).
    [InlineData("stats", 0)]
    [InlineData("simulate --client 192.0.2.9 --from a@sender.example --to b@example.com --record", 2)] // 2: greylisted
    public async Task Run_as_root_on_sqlite_it_becomes_the_daemons_user_so_the_files_it_creates_stay_the_daemons(string command, int expectedExit)
    {
        Assert.True(Environment.UserName == "root", "this test plays root running an admin command");
        var folder = _run.Combine("var");
        // The temp folder is made 0700; the daemon's user must be able to reach its database folder inside.
        File.SetUnixFileMode(Path.GetDirectoryName(folder)!, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute
            | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute);
        Directory.CreateDirectory(folder);
        await using var account = await TestAccounts.CreateAsync("mhadmin");
        await RunProgramAsync("chown", $"{account.Name}:{account.Name}", folder);
        var config = _run.Combine("daemon-user.yaml");
        File.WriteAllText(config, $"database: sqlite:{folder}/milterhost.db\nuser: {account.Name}\n");

        var (exit, _, stderr) = await MilterHostProcess.RunToEndAsync([.. command.Split(' '), "--config", config]);

        Assert.DoesNotContain("cannot", stderr, StringComparison.Ordinal);
        Assert.Equal(expectedExit, exit);
        Assert.Equal(account.Name, (await RunProgramAsync("stat", "-c", "%U", $"{folder}/milterhost.db")).Trim());
    }

    private static async Task<string> RunProgramAsync(string program, params string[] args)
    {
        using var process = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo(program, args)
        {
            RedirectStandardOutput = true,
            UseShellExecute = false,
        })!;
        var output = await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();
        Assert.Equal(0, process.ExitCode);
        return output;
    }

    [Fact]
    public async Task A_stored_sender_reaches_the_terminal_with_its_escape_sequences_as_text_and_the_json_unchanged()
    {
        // A sender sendmail 8.17 accepts in MAIL FROM (a quoted local part): it retitles and recolours
        // the terminal, and its CR would let the rest of the line overwrite the row.
        const string Sender = "\"\u001b]0;owned\u0007\u001b[41mx\rpassed\"@evil.example";
        var client = IPAddress.Parse("192.0.2.9");
        await using (var stores = await _run.OpenAsync())
        {
            await stores.Greylist.Check.CheckAsync(Triplet.Create(ClientKey.ForAddress(client, AdminRun.Greylist.Subnet), Sender, "bob@example.com"),
                client, DateTimeOffset.UtcNow, AdminRun.Greylist, default); // the binary lists by the real clock
        }

        var text = await RunAsync("greylist", "list");
        var json = await RunAsync("greylist", "list", "--json");

        Assert.Equal((0, ""), (text.ExitCode, text.StdErr));
        Assert.DoesNotContain(text.StdOut, c => char.IsControl(c) && c != '\n');
        Assert.Contains("\\x1b[41mx\\x0dpassed\"@evil.example>", text.StdOut, StringComparison.Ordinal);
        Assert.Equal(0, json.ExitCode);
        using var document = JsonDocument.Parse(json.StdOut);
        var stored = Assert.Single(document.RootElement.GetProperty("triplets").EnumerateArray()).GetProperty("sender").GetString();
        Assert.Contains("\u001b[41mx\rpassed\"@evil.example", stored, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Usage_error_exits_1_with_the_reason_on_stderr()
    {
        var (exit, _, stderr) = await RunAsync("ban", "add", "not-an-address");

        Assert.Equal(1, exit);
        Assert.Contains("'not-an-address' is not an IP address or CIDR network", stderr, StringComparison.Ordinal);
    }
}
