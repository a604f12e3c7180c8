using Milter.Load;

// The load generator shares the machine with the filter it measures, so it must be cheap: socket
// completions run inline on the epoll thread instead of hopping to the thread pool (less than half
// the CPU per message here). Read once, when the first socket is made, so set before any.
Environment.SetEnvironmentVariable("DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS", "1");

// milter-load: the load generator of bench/run.sh. Subcommands:
//   run          (the default) C concurrent sendmail-like SMTP sessions through M messages
//   idle         N connections that negotiate, CONNECT and HELO, then sit: the filter's memory per idle session
//   prefill      bulk-insert passed triplets into a milterhost SQLite database
//   store-bench  lookup latency of the SQLite greylist store, and how long a sweep stalls it
//   report       the table of bench/run.sh from the JSON lines of the runs
var verb = args.Length > 0 && !args[0].StartsWith("--", StringComparison.Ordinal) ? args[0] : "run";
var rest = verb == "run" && (args.Length == 0 || args[0].StartsWith("--", StringComparison.Ordinal)) ? args : args[1..];
using var stop = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    stop.Cancel();
};
try
{
    return verb switch
    {
        "run" => await RunCommand.ExecuteAsync(new Arguments(rest, "--json", "--warm", "--warm-only", "--churn"), stop.Token),
        "idle" => await IdleCommand.ExecuteAsync(new Arguments(rest, "--json"), stop.Token),
        "prefill" => await PrefillCommand.ExecuteAsync(new Arguments(rest, "--json"), stop.Token),
        "store-bench" => await StoreBenchCommand.ExecuteAsync(new Arguments(rest, "--json"), stop.Token),
        "report" => await ReportCommand.ExecuteAsync(new Arguments(rest, "--churn")),
        _ => throw new ArgumentException($"unknown command '{verb}': run, idle, prefill, store-bench or report"),
    };
}
catch (ArgumentException e)
{
    await Console.Error.WriteLineAsync("milter-load: " + e.Message);
    return 2;
}
