using CustomFilter;
using MilterHost.Chain;

// The stock command line (run, check-config, simulate, ...) with one more filter the YAML can name:
// filters: [relay, ban, recipients, max_recipients, dns_lists, spf, greylist]
return await MilterHost.MilterHostCli.RunAsync(args, new MilterHostSetup(services =>
    services.AddMilterFilter(MaxRecipientsFilter.FilterName, MaxRecipientsOptions.Section, (_, options) => new MaxRecipientsFilter(options))));
