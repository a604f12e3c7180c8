using Dapper;

// The load generator's own Dapper calls (the prefill) are bound at build time like the daemon's
// (src/DapperAot.targets), so that one way of calling the database runs through the repository.
[module: DapperAot]
