using Dapper;

// Every Dapper call in this assembly is bound at build time by Dapper.AOT (src/DapperAot.targets):
// parameters and rows through generated code, nothing reflected or emitted at run time.
[module: DapperAot]
