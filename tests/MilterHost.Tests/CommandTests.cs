using System.CommandLine;
using MilterHost.Commands;
using MilterHost.Configuration;

namespace MilterHost.Tests;

/// <summary>The command line, run in-process with captured output.</summary>
public sealed class CommandTests : IDisposable
{
    private readonly ConfigDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task Check_config_prints_the_effective_config_and_exits_0()
    {
        var path = _dir.Write("milterhost.yaml", "listen: unix:milter.sock\nlocal_domains: [example.com]\ngreylist:\n  delay: 90s\n");
        var (exit, stdout, stderr) = await Run(MilterHostCli.CreateRootCommand(), "check-config", "--config", path);

        Assert.Equal(0, exit);
        Assert.Equal("", stderr);
        Assert.StartsWith($"# milterhost: effective configuration of {path}\n", stdout, StringComparison.Ordinal);
        Assert.Contains($"\nlisten: unix:{_dir.Path}/milter.sock\n", stdout, StringComparison.Ordinal);
        Assert.Contains("\n  delay: 90s\n  retry_window: 5h\n", stdout, StringComparison.Ordinal);
        // What it prints is itself a valid configuration meaning the same.
        var reread = ConfigLoader.Parse(stdout, "stdout", _dir.Path);
        Assert.True(reread.Success, string.Join("\n", reread.Errors));
        Assert.Equal(TimeSpan.FromSeconds(90), reread.Config.Options.Greylist.Delay);
    }

    [Fact]
    public async Task Check_config_warns_about_a_milter_port_and_a_status_port_other_hosts_reach_without_a_password()
    {
        var path = _dir.Write("milterhost.yaml", "listen: inet6:8891@[::]\nstatus: { listen: \"192.0.2.1:8025\" }\nlocal_domains: [example.com]\n");
        var (exit, stdout, stderr) = await Run(MilterHostCli.CreateRootCommand(), "check-config", "--config", path);

        Assert.Equal(0, exit);
        Assert.Equal(
            $"{path}:1:1: warning: listen: inet6:8891@[::] accepts milter connections from every interface; the milter protocol has no authentication, "
            + "so anyone who reaches the port can pre-pass greylist triplets or trigger bypass bans. Firewall the port to the MTA's address, or listen on a Unix socket or loopback\n"
            + $"{path}:2:11: warning: status.listen 192.0.2.1:8025 is not a loopback address and status.token is not set: anyone who reaches the port reads "
            + "the status page, the metrics and the summary (client networks, sender domains). Set status.token, or listen on 127.0.0.1\n",
            stderr);
        Assert.Contains("\nlisten: inet6:8891@[::]\n", stdout, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("listen: inet:8891\n", "inet:8891@127.0.0.1")]
    [InlineData("listen: inet:8891@localhost\nstatus: { listen: \"localhost:8025\" }\n", "inet:8891@localhost")]
    [InlineData("listen: inet6:8891@[::1]\nstatus: { listen: \"0.0.0.0:8025\", token: s3cret }\n", "inet6:8891@[::1]")]
    public async Task Check_config_is_quiet_about_loopback_and_a_status_port_with_a_token(string yaml, string listen)
    {
        var path = _dir.Write("milterhost.yaml", yaml + "local_domains: [example.com]\n");
        var (exit, stdout, stderr) = await Run(MilterHostCli.CreateRootCommand(), "check-config", "--config", path);

        Assert.Equal((0, ""), (exit, stderr));
        Assert.Contains($"\nlisten: {listen}\n", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Check_config_prints_every_error_to_stderr_and_exits_1()
    {
        var path = _dir.Write("milterhost.yaml", "greylist:\n  delay: soon\n  enabld: true\n");
        var (exit, stdout, stderr) = await Run(MilterHostCli.CreateRootCommand(), "check-config", "-c", path);

        Assert.Equal(1, exit);
        Assert.Equal("", stdout);
        Assert.Equal(
            $"{path}:2:10: greylist.delay: 'soon' is not a duration; write a number and a unit (ms, s, m, h, d), e.g. 90s, 2m, 4h, 36d\n"
            + $"{path}:3:3: unknown key 'enabld' in greylist (did you mean 'enabled'?)\n"
            + $"2 errors in {path}\n",
            stderr);
    }

    [Fact]
    public async Task Check_config_warns_when_local_domains_is_empty_as_relay_control_then_refuses_all_inbound_mail()
    {
        var path = _dir.Write("milterhost.yaml", "listen: unix:milter.sock\n");
        var (exit, _, stderr) = await Run(MilterHostCli.CreateRootCommand(), "check-config", "--config", path);

        Assert.Equal(0, exit);
        Assert.StartsWith($"{path}: warning: local_domains is empty: every recipient counts as another domain's, so the relay filter refuses all mail", stderr,
            StringComparison.Ordinal);

        // Written out empty: the warning is at the key.
        var written = _dir.Write("written.yaml", "listen: unix:milter.sock\nlocal_domains: []\n");
        (exit, _, stderr) = await Run(MilterHostCli.CreateRootCommand(), "check-config", "--config", written);
        Assert.Equal(0, exit);
        Assert.True(stderr.StartsWith($"{written}:2:1: warning: local_domains is empty:", StringComparison.Ordinal), stderr);
    }

    [Fact]
    public void A_file_a_filter_cannot_read_is_placed_at_its_list_entry()
    {
        // As root nothing is unreadable, so the message run would print is given here.
        _dir.Write("local-host-names", "example.com\n");
        _dir.Write("more-names", "example.org\n");
        var path = _dir.Write("milterhost.yaml",
            "listen: unix:milter.sock\nlocal_domains:\n  - \"file:local-host-names\"\n  - \"file:more-names\"\nrecipients:\n  sources: [passwd, \"aliases:more-names\"]\n");
        var config = ConfigLoader.Load(path).Config!;

        Assert.Equal($"{path}:4:5", Commands.EnvironmentChecks.DescribeBySetting(config, $"local_domains: cannot read {_dir.Path}/more-names: Permission denied"));
        Assert.Equal($"{path}:6:21", Commands.EnvironmentChecks.DescribeBySetting(config,
            $"recipients.sources: cannot read aliases file {_dir.Path}/more-names: Permission denied"));
        Assert.Equal($"{path}:2:1", Commands.EnvironmentChecks.DescribeBySetting(config, "local_domains: something else"));
    }

    [Fact]
    public async Task Check_config_refuses_a_fifo_a_filter_would_read()
    {
        var fifo = await _dir.FifoAsync("names.fifo");
        var path = _dir.Write("milterhost.yaml", "listen: unix:milter.sock\nlocal_domains: [\"file:names.fifo\"]\n");

        var (exit, _, stderr) = await Run(MilterHostCli.CreateRootCommand(), "check-config", "--config", path);

        Assert.Equal(1, exit);
        Assert.True(stderr.StartsWith($"{path}:2:17: local_domains#1: '{fifo}' is a FIFO, not a file", StringComparison.Ordinal), stderr);
    }

    [Fact]
    public async Task Check_config_refuses_what_run_would_refuse_at_start_an_unknown_account_or_group_and_a_file_the_filters_cannot_read()
    {
        _dir.Write("local-host-names", "example.com\nnot a name!\n");
        var path = _dir.Write("milterhost.yaml",
            "listen: unix:milter.sock\nuser: no-such-user-here\nsocket:\n  group: no-such-group-here\nlocal_domains: [\"file:local-host-names\"]\n");
        var (exit, stdout, stderr) = await Run(MilterHostCli.CreateRootCommand(), "check-config", "--config", path);

        Assert.Equal(1, exit);
        Assert.Equal("", stdout);
        var lines = stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(4, lines.Length);
        Assert.Equal($"{path}:2:1: user: no account named 'no-such-user-here'", lines[0]);
        Assert.Equal($"{path}:4:3: socket.group: no group named 'no-such-group-here'", lines[1]);
        Assert.Equal($"{_dir.Path}/local-host-names:2: 'name!': '!' is not allowed in a domain name", lines[2]);
        Assert.Equal($"3 errors in {path}", lines[3]);
    }

    [Fact]
    public async Task Check_config_accepts_accounts_and_files_that_exist()
    {
        _dir.Write("local-host-names", "example.com\n");
        var path = _dir.Write("milterhost.yaml", "listen: unix:milter.sock\nuser: nobody\nsocket:\n  group: root\nlocal_domains: [\"file:local-host-names\"]\n");
        var (exit, _, stderr) = await Run(MilterHostCli.CreateRootCommand(), "check-config", "--config", path);

        Assert.Equal((0, ""), (exit, stderr));
    }

    [Fact]
    public async Task Check_config_warns_of_the_lines_of_recipient_files_that_run_would_skip()
    {
        _dir.Write("local-host-names", "example.com\n");
        _dir.Write("aliases", "postmaster: root\nbad line without colon\n");
        _dir.Write("virtusertable", "info@example.com alice\nlonely@example.com\n");
        var path = _dir.Write("milterhost.yaml",
            "listen: unix:milter.sock\nlocal_domains: [\"file:local-host-names\"]\nrecipients:\n  sources: [\"aliases:aliases\", \"virtusertable:virtusertable\"]\n");

        var (exit, _, stderr) = await Run(MilterHostCli.CreateRootCommand(), "check-config", "--config", path);

        Assert.Equal(0, exit);
        Assert.Contains($"{_dir.Path}/aliases:2: warning: no 'name:' at the start; line ignored\n", stderr, StringComparison.Ordinal);
        Assert.Contains($"{_dir.Path}/virtusertable:2: warning: a key without a target; line ignored\n", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Check_config_of_a_missing_file_exits_1()
    {
        var path = Path.Combine(_dir.Path, "nope.yaml");
        var (exit, _, stderr) = await Run(MilterHostCli.CreateRootCommand(), "check-config", "--config", path);
        Assert.Equal(1, exit);
        Assert.Equal($"{path}: cannot read the configuration: no such file\n1 error in {path}\n", stderr);
    }

    [Fact]
    public async Task Run_with_a_bad_config_does_not_start_and_exits_1()
    {
        var started = false;
        var root = new RootCommand { RunCommand.Create((_, _, _) => { started = true; return Task.FromResult(0); }) };
        var path = _dir.Write("milterhost.yaml", "listen: tcp:25\n");
        var (exit, _, stderr) = await Run(root, "run", "--config", path);

        Assert.Equal(1, exit);
        Assert.False(started);
        Assert.Equal(
            "milterhost: not starting: the configuration has errors\n"
            + $"{path}:1:9: listen: 'tcp:25' is not a listen address; write unix:PATH, inet:PORT@HOST or inet6:PORT@HOST\n"
            + $"1 error in {path}\n",
            stderr);
    }

    [Fact]
    public async Task Run_hands_the_loaded_config_to_the_daemon_and_returns_its_exit_status()
    {
        LoadedConfig? received = null;
        var root = new RootCommand
        {
            RunCommand.Create((config, _, _) =>
            {
                received = config;
                return Task.FromResult(7);
            }),
        };
        var path = _dir.Write("milterhost.yaml", "listen: inet:8891@127.0.0.1\n");
        var (exit, _, _) = await Run(root, "run", "--config", path);

        Assert.Equal(7, exit);
        Assert.NotNull(received);
        Assert.Equal(path, received.Path);
        Assert.Equal(ListenFamily.Inet, received.Listen.Family);
        Assert.Equal(8891, received.Listen.Port);
    }

    [Theory]
    [InlineData("run")]
    [InlineData("check-config")]
    public async Task Help_of_each_command_describes_the_config_option_and_its_default(string command)
    {
        var (exit, stdout, _) = await Run(MilterHostCli.CreateRootCommand(), command, "--help");
        Assert.Equal(0, exit);
        Assert.Contains("-c, --config <PATH>", stdout, StringComparison.Ordinal);
        Assert.Contains("Relative paths inside it are resolved against its directory.", stdout, StringComparison.Ordinal);
        Assert.Contains("[default: /etc/milterhost/milterhost.yaml]", stdout, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("relay-test", "--timeout <DURATION>", "[default: 30s]")]
    public async Task Help_shows_duration_defaults_as_they_are_written(string command, string option, string shown)
    {
        var (exit, stdout, _) = await Run(MilterHostCli.CreateRootCommand(), command, "--help");
        Assert.Equal(0, exit);
        var line = Assert.Single(stdout.Split('\n'), l => l.TrimStart().StartsWith(option, StringComparison.Ordinal));
        Assert.EndsWith(shown, line.TrimEnd(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Root_help_lists_the_commands()
    {
        var (exit, stdout, _) = await Run(MilterHostCli.CreateRootCommand(), "--help");
        Assert.Equal(0, exit);
        Assert.Contains("  run ", stdout, StringComparison.Ordinal);
        Assert.Contains("  check-config ", stdout, StringComparison.Ordinal);
        Assert.Contains("--version", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Version_prints_the_product_version()
    {
        var (exit, stdout, _) = await Run(MilterHostCli.CreateRootCommand(), "--version");
        Assert.Equal(0, exit);
        Assert.Matches(@"^\d+\.\d+\.\d+", stdout);
    }

    [Fact]
    public async Task Misspelt_option_is_a_usage_error()
    {
        var (exit, _, stderr) = await Run(MilterHostCli.CreateRootCommand(), "check-config", "--confg", "x.yaml");
        Assert.NotEqual(0, exit);
        Assert.Contains("--confg", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_bad_option_value_is_answered_with_the_error_and_where_the_usage_is_not_the_whole_help()
    {
        var (exit, stdout, stderr) = await Run(MilterHostCli.CreateRootCommand(), "greylist", "allow", "--for", "soon", "192.0.2.1");

        Assert.NotEqual(0, exit);
        Assert.Equal("", stdout);
        var lines = stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.StartsWith("--for: 'soon' is not a duration", lines[0], StringComparison.Ordinal);
        Assert.Equal("Run 'milterhost greylist allow --help' for the usage.", lines[^1]);
        Assert.DoesNotContain("Usage:", stderr, StringComparison.Ordinal);
    }

    /// <summary>Runs the command line in-process, as the binary would, capturing both outputs.</summary>
    internal static async Task<(int Exit, string Stdout, string Stderr)> Run(RootCommand root, params string[] args)
    {
        var stdout = new StringWriter { NewLine = "\n" };
        var stderr = new StringWriter { NewLine = "\n" };
        var exit = await MilterHostCli.InvokeAsync(MilterHostCli.Parse(root, args), new InvocationConfiguration { Output = stdout, Error = stderr });
        return (exit, stdout.ToString(), stderr.ToString());
    }
}
