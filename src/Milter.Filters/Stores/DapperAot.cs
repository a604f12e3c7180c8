using Dapper;
using Milter.Filters.Stores;

// Every Dapper call in this assembly is bound at build time by Dapper.AOT (src/DapperAot.targets):
// parameters and rows through generated code, nothing reflected or emitted at run time. Every
// generated command factory derives from PreparedCommandFactory, which keeps SQLite's statements
// prepared per connection.
[module: DapperAot]
[module: CommandFactory<PreparedCommandFactory<object>>]
