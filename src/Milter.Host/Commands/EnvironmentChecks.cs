using Microsoft.Extensions.Logging;
using Milter.Filters.Stores;
using MilterHost.Chain;
using MilterHost.Configuration;
using MilterHost.Hosting;
using MilterHost.Native;
using MilterHost.Simulation;

namespace MilterHost.Commands;

/// <summary>
/// What <c>run</c> would refuse at start although the file itself is valid: the accounts it names
/// (<c>user:</c>, <c>socket.group</c>) and the files the filters read (local_domains files, aliases,
/// virtusertable, a plug-in filter's own), read by building the filter chain once on a scratch store.
/// check-config reports them as errors, so a configuration it passes also starts. Files are opened as
/// the user running check-config; the daemon opens them after dropping to <c>user:</c>.
/// </summary>
internal static class EnvironmentChecks
{
    /// <summary>
    /// One <c>file:line:column: message</c> line per problem (empty when <c>run</c> would get past
    /// them), and a <c>file:line: warning: message</c> line for each warning the filters log as they
    /// read their files (an aliases line that is no alias: <c>run</c> logs it and goes on).
    /// </summary>
    public static async Task<(IReadOnlyList<string> Problems, IReadOnlyList<string> Warnings)> RunAsync(LoadedConfig config, MilterHostSetup setup,
        CancellationToken cancellationToken)
    {
        var problems = new List<string>();
        var warnings = new WarningLines(config.Path);
        var options = config.Options;
        if (options.User is { } user && user != "root" && Posix.FindUser(user) is null)
            problems.Add($"{config.Describe("user")}: user: no account named '{user}'");
        if (config.Listen.Family == ListenFamily.Unix && options.Socket.Group is { } group && Posix.FindGroup(group) is null)
            problems.Add($"{config.Describe("socket.group")}: socket.group: no group named '{group}'");

        var scratch = Directory.CreateTempSubdirectory("milterhost-check-").FullName;
        try
        {
            using var quiet = LoggerFactory.Create(b => b.SetMinimumLevel(LogLevel.None));
            using var loggers = LoggerFactory.Create(b => b.SetMinimumLevel(LogLevel.Warning).AddProvider(warnings));
            var stores = await StoreFactory.OpenAsync("sqlite:" + Path.Combine(scratch, "check.db"), TimeProvider.System, quiet, cancellationToken: cancellationToken)
                .ConfigureAwait(false);
            await using (stores.ConfigureAwait(false))
            {
                try
                {
                    _ = new PolicyBuilder(new ReadOnlyGreylistCheck(stores.Greylist.Check), stores.BypassBans, new ReadOnlyDynamicBanStore(stores.Bans),
                        NoDecisions.Instance, TimeProvider.System, loggers, setup.Catalog, setup.BuildServices()).BuildChain(config);
                }
                catch (Exception e) when (e is FormatException or ArgumentException or IOException or UnauthorizedAccessException)
                {
                    // A message about a line of another file starts with that file's place.
                    problems.Add(e.Message.StartsWith('/') ? e.Message : $"{DescribeBySetting(config, e.Message)}: {e.Message}");
                }
            }
        }
        finally
        {
            Directory.Delete(scratch, recursive: true);
        }
        return (problems, warnings.Lines);
    }

    /// <summary>The warnings logged while the chain is built, as check-config prints warnings.</summary>
    private sealed class WarningLines(string configPath) : ILoggerProvider, ILogger
    {
        private readonly List<string> _lines = [];

        public IReadOnlyList<string> Lines
        {
            get
            {
                lock (_lines) return [.. _lines];
            }
        }

        public ILogger CreateLogger(string categoryName) => this;

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Warning;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (!IsEnabled(logLevel))
                return;
            var message = formatter(state, exception);
            // "/etc/mail/aliases:12: no 'name:' at the start; line ignored": the place first, as the config's own warnings.
            var place = System.Text.RegularExpressions.Regex.Match(message, @"^(/[^:]*:\d+): ");
            var line = place.Success ? $"{place.Groups[1].Value}: warning: {message[place.Length..]}" : $"{configPath}: warning: {message}";
            lock (_lines) _lines.Add(line);
        }

        public void Dispose()
        {
        }
    }

    // The filters' messages start with the setting they are about ("recipients.sources: cannot read
    // ..."): the place of the list entry whose file the message names when there is one (the loader
    // recorded each entry's place, and made its path absolute), else the setting's, else the file.
    internal static string DescribeBySetting(LoadedConfig config, string message)
    {
        var colon = message.IndexOf(": ", StringComparison.Ordinal);
        if (colon <= 0)
            return config.Path;
        var setting = message[..colon];
        IReadOnlyList<string>? entries = setting switch
        {
            "local_domains" => config.Options.LocalDomains,
            "recipients.sources" => config.Options.Recipients.Sources,
            _ => null,
        };
        for (var i = 0; entries is not null && i < entries.Count; i++)
        {
            var file = entries[i][(entries[i].IndexOf(':') + 1)..];
            if (file.StartsWith('/') && message.Contains(" " + file + ":", StringComparison.Ordinal))
                return config.Describe($"{setting}#{i + 1}");
        }
        return config.Describe(setting);
    }
}
