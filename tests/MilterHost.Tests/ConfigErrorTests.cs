namespace MilterHost.Tests;

/// <summary>Each kind of configuration error, with the exact file:line:column and message a postmaster sees.</summary>
public sealed class ConfigErrorTests : IDisposable
{
    private readonly ConfigDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Unknown_top_level_key_is_an_error_with_a_suggestion()
    {
        var errors = _dir.Errors("""
            listen: unix:/tmp/m.sock
            grylist:
              enabled: true
            """, out var path);
        Assert.Equal([$"{path}:2:1: unknown key 'grylist' (did you mean 'greylist'?)"], errors);
    }

    [Fact]
    public void Unknown_nested_key_names_its_section()
    {
        var errors = _dir.Errors("""
            greylist:
              dealy: 2m
              colour: blue
            """, out var path);
        Assert.Equal(
        [
            $"{path}:2:3: unknown key 'dealy' in greylist (did you mean 'delay'?)",
            $"{path}:3:3: unknown key 'colour' in greylist",
        ], errors);
    }

    [Fact]
    public void Duplicate_key_is_an_error_at_the_second_one()
    {
        var errors = _dir.Errors("""
            greylist:
              delay: 2m
              delay: 3m
            """, out var path);
        Assert.Equal([$"{path}:3:3: duplicate key 'delay' (first written at line 2)"], errors);
    }

    [Theory]
    [InlineData("\"mail google.com\"", "'mail google.com' is not a host name pattern (' ' at 5): letters, digits, '-', '_', '.', '*' and '?'")]
    [InlineData("\"[192.0.2.1]\"", "'[192.0.2.1]' is not a host name pattern ('[' at 1): letters, digits, '-', '_', '.', '*' and '?'")]
    [InlineData("\"*.*\"", "'*.*' matches every host name (greylist.only_suspicious greylists only suspicious-looking clients)")]
    public void Skip_client_names_takes_host_name_patterns_only(string pattern, string message)
    {
        var errors = _dir.Errors($"greylist:\n  skip:\n    client_names: [{pattern}]\n", out var path);
        Assert.Equal([$"{path}:3:20: greylist.skip.client_names#1: {message}"], errors);
    }

    [Fact]
    public void Yes_is_not_a_boolean()
    {
        var errors = _dir.Errors("""
            greylist:
              enabled: yes
            """, out var path);
        Assert.Equal([$"{path}:2:12: greylist.enabled: expected true or false, got 'yes'"], errors);
    }

    [Theory]
    [InlineData("relay: [1, 2]", "1:8: relay: expected a mapping of keys, got a list")]
    [InlineData("local_domains: example.com", "1:16: local_domains: expected a list, got 'example.com'")]
    [InlineData("limits:\n  max_connections: many", "2:20: limits.max_connections: expected a whole number from 1 to 100000, got 'many'")]
    [InlineData("limits:\n  max_connections: 0", "2:20: limits.max_connections: expected a whole number from 1 to 100000, got '0'")]
    [InlineData("greylist:\n  subnet: { ipv4: 33 }", "2:19: greylist.subnet.ipv4: expected a whole number from 0 to 32, got '33'")]
    [InlineData("logscan: { threshold: 0 }", "1:23: logscan.threshold: expected a whole number from 1 to 1000000, got '0'")]
    [InlineData("log:\n  level: verbose", "2:10: log.level: expected trace | debug | info | warn | warning | error | fatal | off, got 'verbose'")]
    [InlineData("log:\n  syslog: [true]", "2:11: log.syslog: expected true or false, got a list")]
    [InlineData("listen:", "1:8: listen: expected a listen address, got nothing")]
    [InlineData("on_error: reject", "1:11: on_error: expected tempfail | accept, got 'reject'")]
    [InlineData("recipients:\n  action: bounce", "2:11: recipients.action: expected reject | discard, got 'bounce'")]
    [InlineData("dns_lists:\n  - { zone: bl.example, action: skip-greylist }", "2:33: dns_lists#1.action: expected skip_greylist | reject | tempfail, got 'skip-greylist' (did you mean 'skip_greylist'?)")]
    [InlineData("socket:\n  mode: \"0966\"", "2:9: socket.mode: expected an octal file mode like \"0660\", got '0966'")]
    [InlineData("limits:\n  max_frame_size: 1K", "2:19: limits.max_frame_size: expected a size in bytes from 65536 to 67108864 (suffix K or M allowed), got '1K'")]
    [InlineData("- listen", "1:1: the configuration: expected a mapping of keys, got a list")]
    public void Wrong_type_is_reported_at_the_value(string yaml, string expected)
    {
        var errors = _dir.Errors(yaml, out var path);
        Assert.Equal([$"{path}:{expected}"], errors);
    }

    [Theory]
    [InlineData("2x", "'2x' has an unknown unit 'x'; write a number and a unit (ms, s, m, h, d), e.g. 90s, 2m, 4h, 36d")]
    [InlineData("-5m", "'-5m': a duration cannot be negative")]
    [InlineData("120", "'120' has no unit; write a number and a unit (ms, s, m, h, d), e.g. 90s, 2m, 4h, 36d")]
    [InlineData("1.5h", "'1.5h' is not a duration; write a number and a unit (ms, s, m, h, d), e.g. 90s, 2m, 4h, 36d")]
    [InlineData("soon", "'soon' is not a duration; write a number and a unit (ms, s, m, h, d), e.g. 90s, 2m, 4h, 36d")]
    [InlineData("99999d", "'99999d' is longer than ten years")]
    public void Bad_duration_is_reported_at_the_value(string duration, string message)
    {
        var errors = _dir.Errors($"greylist:\n  delay: {duration}\n", out var path);
        Assert.Equal([$"{path}:2:10: greylist.delay: {message}"], errors);
    }

    [Fact]
    public void Zero_is_refused_where_a_duration_must_be_positive()
    {
        var errors = _dir.Errors("dns:\n  timeout: 0s\n", out var path);
        Assert.Equal([$"{path}:2:12: dns.timeout: must be longer than zero"], errors);
    }

    [Fact]
    public void Retry_window_must_be_longer_than_delay()
    {
        var errors = _dir.Errors("""
            greylist:
              delay: 2h
              retry_window: 1h
            """, out var path);
        Assert.Equal([$"{path}:3:3: greylist: retry_window (1h) must be longer than delay (2h)"], errors);
    }

    [Fact]
    public void The_auto_whitelist_header_line_needs_add_header()
    {
        var errors = _dir.Errors("""
            greylist:
              add_header: false
              add_header_whitelisted: true
            """, out var path);
        Assert.Equal([$"{path}:3:3: greylist: add_header_whitelisted needs add_header: true"], errors);
    }

    [Fact]
    public void Spf_section_errors_name_their_place()
    {
        var errors = _dir.Errors("""
            spf:
              reject_fail: yes
              exempt_recipients: [postmaster, "/[a-/"]
            """, out var path);
        Assert.Equal(2, errors.Count);
        Assert.Equal($"{path}:2:16: spf.reject_fail: expected true or false, got 'yes'", errors[0]);
        Assert.StartsWith($"{path}:3:", errors[1], StringComparison.Ordinal);
        Assert.Contains("spf.exempt_recipients", errors[1], StringComparison.Ordinal);
    }

    [Fact]
    public void Dns_timeout_must_be_shorter_than_the_stage_timeout()
    {
        var errors = _dir.Errors("""
            limits:
              stage_timeout: 10s
            dns:
              timeout: 10s
            """, out var path);
        Assert.Equal([$"{path}:3:1: dns: timeout (10s) must be shorter than limits.stage_timeout (10s)"], errors);
    }

    [Fact]
    public void Bad_cidr_items_are_each_reported_at_their_column()
    {
        var errors = _dir.Errors("""
            relay:
              allow_clients: [127.0.0.0/8, 10.0.0.300/8, "::1/129", 192.0.2.1/x]
            """, out var path);
        Assert.Equal(
        [
            $"{path}:2:32: relay.allow_clients#2: '10.0.0.300/8' is not an IP address or CIDR network (e.g. 192.0.2.0/24, 2001:db8::/32)",
            $"{path}:2:46: relay.allow_clients#3: '::1/129' has a bad prefix length; it must be 0-128 for IPv6",
            $"{path}:2:57: relay.allow_clients#4: '192.0.2.1/x' has a bad prefix length; it must be 0-32 for IPv4",
        ], errors);
    }

    [Fact]
    public void Bad_regex_is_reported_where_the_regex_parser_gave_up()
    {
        var errors = _dir.Errors("""
            ban:
              - subject: "(?i)[cheap"
            greylist:
              suspicious_names:
                - (dyn|dsl
                - '/x{2,1}/'
            """, out var path);
        Assert.Equal(
        [
            // Column 14 is the opening quote, so offset 10 of the pattern is column 25.
            $"{path}:2:25: ban#1.subject: invalid regex '(?i)[cheap': Unterminated [] set (at offset 10)",
            $"{path}:5:15: greylist.suspicious_names#1: invalid regex '(dyn|dsl': Not enough )'s (at offset 8)",
            $"{path}:6:15: greylist.suspicious_names#2: invalid regex '/x{{2,1}}/': Illegal {{x,y}} with x > y (at offset 7)",
        ], errors);
    }

    [Theory]
    [InlineData("sender: \"/^bulk-.*@/q\"", "2:25: ban#1.sender: '/^bulk-.*@/q' has an unknown regex flag 'q' (known: i, m, s, x)")]
    [InlineData("sender: \"/^bulk-(.*@/i\"", "2:25: ban#1.sender: invalid regex '^bulk-(.*@': Not enough )'s (at offset 10)")]
    [InlineData("recipient: \"/no-close\"", "2:16: ban#1.recipient: '/no-close' has no closing '/'; write /regex/ or /regex/i")]
    [InlineData("sender: \"@\"", "2:13: ban#1.sender: '@' is not @domain")]
    [InlineData("subject: \"/cheap/z\"", "2:22: ban#1.subject: '/cheap/z' has an unknown regex flag 'z' (known: i, m, s, x)")]
    public void Bad_address_and_subject_patterns_are_reported(string rule, string expected)
    {
        var errors = _dir.Errors($"ban:\n  - {rule}\n", out var path);
        Assert.Equal([$"{path}:{expected}"], errors);
    }

    [Theory]
    [InlineData("tcp:8891", "'tcp:8891' is not a listen address; write unix:PATH, inet:PORT@HOST or inet6:PORT@HOST")]
    [InlineData("/run/milter.sock", "'/run/milter.sock' is not a listen address; write unix:PATH, inet:PORT@HOST or inet6:PORT@HOST")]
    [InlineData("unix:", "'unix:' names no socket path")]
    [InlineData("inet:99999@127.0.0.1", "'inet:99999@127.0.0.1' has no valid port; write inet:PORT@HOST, e.g. inet:8891@127.0.0.1 (port 1-65535)")]
    [InlineData("inet:@127.0.0.1", "'inet:@127.0.0.1' has no valid port; write inet:PORT@HOST, e.g. inet:8891@127.0.0.1 (port 1-65535)")]
    [InlineData("inet6:8891@127.0.0.1", "'inet6:8891@127.0.0.1': 127.0.0.1 is not an IPv6 address")]
    [InlineData("inet:8891@::1", "'inet:8891@::1': ::1 is not an IPv4 address")]
    [InlineData("inet:8891@bad_host!", "'inet:8891@bad_host!': 'bad_host!' is neither an IP address nor a host name")]
    public void Bad_listen_address_is_reported(string listen, string message)
    {
        var errors = _dir.Errors($"listen: \"{listen}\"\n", out var path);
        Assert.Equal([$"{path}:1:9: listen: {message}"], errors);
    }

    [Fact]
    public void Unix_socket_path_longer_than_sun_path_is_refused()
    {
        var longPath = "/tmp/" + new string('s', 110) + ".sock";
        var errors = _dir.Errors($"listen: unix:{longPath}\n", out var path);
        Assert.Equal([$"{path}:1:9: listen: socket path '{longPath}' is longer than the 107 bytes a Unix socket address holds"], errors);
    }

    [Theory]
    [InlineData("mysql:host=db", "'mysql:host=db' is not a database; write sqlite:PATH or postgres:CONNECTION-STRING")]
    [InlineData("sqlite:", "'sqlite:' names no database file; write sqlite:PATH, e.g. sqlite:/var/lib/milterhost/milterhost.db")]
    [InlineData("postgres:", "'postgres:' has an empty connection string; write postgres:Host=HOST;Database=NAME;Username=USER")]
    // A key Npgsql does not know: run would refuse it at start, so check-config must too.
    [InlineData("postgres:Host=db;Bogus=1", "'postgres:Host=db;Bogus=1' has a malformed connection string: Couldn't set bogus (Parameter 'bogus')")]
    public void Bad_database_is_reported(string database, string message)
    {
        var errors = _dir.Errors($"database: \"{database}\"\n", out var path);
        Assert.Equal([$"{path}:1:11: database: {message}"], errors);
    }

    [Fact]
    public void A_bad_filter_name_is_reported_beside_the_files_other_errors()
    {
        var errors = _dir.Errors("bar: 1\nfilters: [relay, foo]\n", out var path);
        Assert.Equal(2, errors.Count);
        Assert.StartsWith($"{path}:1:1: unknown key 'bar'", errors[0], StringComparison.Ordinal);
        Assert.StartsWith($"{path}:2:18: filters: no filter is named 'foo'", errors[1], StringComparison.Ordinal);
    }

    [Fact]
    public void Reply_with_a_line_break_is_reported_as_such()
    {
        var errors = _dir.Errors("ban:\n  - sender: \"*@spammer.example\"\n    reply: \"550 5.7.1 a\\r\\nb\"\n", out var path);
        Assert.Equal([$"{path}:3:12: ban#1.reply: a reply is one line: it may not hold a line break (CR or LF) or a NUL"], errors);
    }

    [Fact]
    public void Reply_must_be_an_smtp_reply_of_the_class_the_action_sends()
    {
        var errors = _dir.Errors("""
            ban:
              - sender: "*@spammer.example"
                reply: "250 ok"
              - client: 192.0.2.1
                action: tempfail
                reply: "550 5.7.1 no"
              - helo: localhost
                reply: "451 4.7.1 later"
              - recipient: gone@example.com
                action: discard
                reply: "550 5.1.1 gone"
              - recipient: left@example.com
                reply: "550 4.1.1 mismatched enhanced code"
            """, out var path);
        Assert.Equal(
        [
            $"{path}:3:12: ban#1.reply: '250 ok' is not an SMTP reply; write a 4xx or 5xx code, an optional enhanced code and text, e.g. \"550 5.7.1 Go away\"",
            $"{path}:6:12: ban#2.reply: action tempfail needs a 4xx reply, got 550",
            $"{path}:8:12: ban#3.reply: action reject needs a 5xx reply, got 451",
            $"{path}:11:12: ban#4.reply: a discarded message gets no reply; drop reply: or change the action",
            $"{path}:13:12: ban#5.reply: enhanced status code 4.1.1 does not match reply code 550 (its first digit must be 5)",
        ], errors);
    }

    [Fact]
    public void Ban_rule_with_two_matchers_is_reported_at_the_second()
    {
        var errors = _dir.Errors("""
            ban:
              - client: 192.0.2.0/24
                helo: example.com
              - action: reject
              - subject
              - { sender: "*@x.example", reason: spam }
            """, out var path);
        Assert.Equal(
        [
            $"{path}:3:5: ban#1: a ban rule has exactly one matcher, this one has 'client' and 'helo'; write two rules",
            $"{path}:4:5: ban#2: a ban rule needs one matcher: client, client_name, helo, sender, recipient or subject",
            $"{path}:5:5: ban#3: expected a rule such as {{ sender: \"*@spammer.example\" }}, got 'subject'",
            $"{path}:6:30: unknown key 'reason' in ban#4",
        ], errors);
    }

    [Fact]
    public void Missing_referenced_files_are_reported_at_their_entries()
    {
        var errors = _dir.Errors("""
            local_domains:
              - example.com
              - "file:missing-hosts"
            recipients:
              sources: [passwd, "aliases:no-aliases", "virtusertable:/nonexistent/virtusertable"]
            """, out var path);
        Assert.Equal(
        [
            $"{path}:3:5: local_domains#2: file not found: {_dir.Path}/missing-hosts",
            $"{path}:5:21: recipients.sources#2: file not found: {_dir.Path}/no-aliases",
            $"{path}:5:43: recipients.sources#3: file not found: /nonexistent/virtusertable",
        ], errors);
    }

    [Fact]
    public void Referenced_path_that_is_a_directory_is_reported()
    {
        Directory.CreateDirectory(Path.Combine(_dir.Path, "aliases.d"));
        var errors = _dir.Errors("recipients:\n  sources: [\"aliases:aliases.d\"]\n", out var path);
        Assert.Equal([$"{path}:2:13: recipients.sources#1: '{_dir.Path}/aliases.d' is a directory, not a file"], errors);
    }

    [Theory]
    [InlineData("local_domains: [\"exa mple.com\"]", "1:17: local_domains#1: 'exa mple.com' is not a domain name, .subdomain wildcard, [address] or file:PATH")]
    [InlineData("recipients:\n  sources: [ldap]", "2:13: recipients.sources#1: 'ldap' is not a recipient source; write passwd, aliases, aliases:PATH or virtusertable:PATH")]
    [InlineData("recipients:\n  addresses: [postmaster]", "2:15: recipients.addresses#1: 'postmaster' is not a mail address (user@domain)")]
    [InlineData("dns:\n  servers: [\"localhost:53\"]", "2:13: dns.servers#1: 'localhost:53' is not a DNS server address (IP or IP:PORT, e.g. 127.0.0.53 or [::1]:53)")]
    [InlineData("dns_lists:\n  - { action: reject }", "2:5: dns_lists#1: 'zone' is required")]
    [InlineData("dns_lists:\n  - { zone: bl.example, codes: [127.0.0.11-127.0.0.2] }", "2:33: dns_lists#1.codes#1: '127.0.0.11-127.0.0.2' is not a return code (127.0.0.2) or range (127.0.0.2-127.0.0.11)")]
    [InlineData("dns_lists:\n  - { zone: \"bl..example\" }", "2:13: dns_lists#1.zone: 'bl..example' is not a DNS zone name")]
    [InlineData("status:\n  listen: 8025", "2:11: status.listen: '8025' is not HOST:PORT (e.g. 127.0.0.1:8025 or [::1]:8025)")]
    [InlineData("user: \"mail user\"", "1:7: user: 'mail user' is not a user or group name")]
    [InlineData("relay:\n  local_users: [root, no-such-user-4f1c9a]", "2:23: relay.local_users#2: no user 'no-such-user-4f1c9a' on this host; write an existing user name or a uid")]
    [InlineData("relay:\n  local_users: [\"ali ce\"]", "2:17: relay.local_users#1: 'ali ce' is not a user or group name")]
    [InlineData("relay:\n  local_users: root", "2:16: relay.local_users: expected a list, got 'root'")]
    [InlineData("relay:\n  submission_user: \"sm msp\"", "2:20: relay.submission_user: 'sm msp' is not a user or group name")]
    public void Bad_values_in_lists_and_sections_are_reported(string yaml, string expected)
    {
        var errors = _dir.Errors(yaml, out var path);
        Assert.Equal([$"{path}:{expected}"], errors);
    }

    [Fact]
    public void Several_errors_are_all_reported_in_file_order()
    {
        var errors = _dir.Errors("""
            listen: inet:0@127.0.0.1
            on_eror: accept
            relay:
              allow_clients: [300.1.1.1]
            ban:
              - subject: "[oops"
              - client: 192.0.2.1
                sender: "*@x.example"
            greylist:
              delay: 5 minutes
              pass_lifetime: 36d
            local_domains: ["file:nowhere"]
            """, out var path);
        Assert.Equal(
        [
            $"{path}:1:9: listen: 'inet:0@127.0.0.1' has no valid port; write inet:PORT@HOST, e.g. inet:8891@127.0.0.1 (port 1-65535)",
            $"{path}:2:1: unknown key 'on_eror' (did you mean 'on_error'?)",
            $"{path}:4:19: relay.allow_clients#1: '300.1.1.1' is not an IP address or CIDR network (e.g. 192.0.2.0/24, 2001:db8::/32)",
            $"{path}:6:20: ban#1.subject: invalid regex '[oops': Unterminated [] set (at offset 5)",
            $"{path}:8:5: ban#2: a ban rule has exactly one matcher, this one has 'client' and 'sender'; write two rules",
            $"{path}:10:10: greylist.delay: '5 minutes' is not a duration; write a number and a unit (ms, s, m, h, d), e.g. 90s, 2m, 4h, 36d",
            $"{path}:12:17: local_domains#1: file not found: {_dir.Path}/nowhere",
        ], errors);
    }

    [Fact]
    public void Yaml_syntax_error_is_reported_with_its_position()
    {
        var errors = _dir.Errors("""
            greylist:
              delay: 2m
             enabled: true
            """, out var path);
        var error = Assert.Single(errors);
        Assert.StartsWith($"{path}:3:2: YAML syntax error: ", error, StringComparison.Ordinal);
    }

    public static TheoryData<string, int, int> TabIndentations => new()
    {
        // Under a key in the middle of the file; YamlDotNet blames the start of the mapping (1:1).
        { "log:\n  level: info\nlimits:\n  max_connections: 100\n\tidle_timeout: 2h\n", 5, 1 },
        // After spaces; YamlDotNet blames the end of the line before.
        { "greylist:\n  enabled: true\n  \tdelay: 2m\n", 3, 3 },
    };

    [Theory]
    [MemberData(nameof(TabIndentations))]
    public void A_tab_in_the_indentation_is_reported_where_it_is(string yaml, int line, int column)
    {
        var errors = _dir.Errors(yaml, out var path);
        var error = Assert.Single(errors);
        Assert.Equal($"{path}:{line}:{column}: YAML syntax error: a tab in the indentation; YAML indents with spaces only", error);
    }

    [Fact]
    public void Malformed_flow_list_is_a_syntax_error_not_a_crash()
    {
        var errors = _dir.Errors("relay:\n  allow_clients: [127.0.0.1, 10.0.0.0/8\nbad: c\n", out var path);
        var error = Assert.Single(errors);
        Assert.StartsWith($"{path}:", error, StringComparison.Ordinal);
        Assert.Contains("YAML syntax error", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Alias_to_an_unknown_anchor_is_reported()
    {
        var errors = _dir.Errors("relay:\n  allow_clients: *trusted\n", out var path);
        Assert.Contains($"{path}:2:18: alias '*trusted' refers to no anchor above it; a value that starts with * is written in quotes: \"*trusted\"", errors);
    }

    public static TheoryData<string, string> CommonYamlMistakes => new()
    {
        { "ban:\n  - sender: \"a@b.example\"\n    reply: 550 5.7.1 no: go away\n", "a value with ': ' in it is written in quotes" },
        { "greylist:\n  delay: 5m\n retry_window: 5h\n", "the keys of one section line up" },
        { "ban:\n  - sender: @spam.example\n", "a value that starts with @, `, % or | is written in quotes" },
        { "listen: 'unix:m.sock\n", "a quote opened here is not closed on this line" },
        { "ban: [ {sender: a@b.example }\n", "a [ or { is not closed with its ] or }" },
    };

    [Theory]
    [MemberData(nameof(CommonYamlMistakes))]
    public void Common_yaml_mistakes_get_a_hint_of_how_to_write_it(string yaml, string hint)
    {
        var error = Assert.Single(_dir.Errors(yaml, out _));
        Assert.Contains("YAML syntax error: ", error, StringComparison.Ordinal);
        Assert.Contains("; " + hint, error, StringComparison.Ordinal);
    }

    [Fact]
    public void Second_document_is_refused()
    {
        var errors = _dir.Errors("on_error: accept\n---\non_error: tempfail\n", out var path);
        Assert.Equal([$"{path}:2:1: only one YAML document is allowed in the configuration"], errors);
    }

    [Fact]
    public void Aliases_source_names_the_sendmail_cf_entry_whose_file_is_missing()
    {
        var cf = _dir.Write("sendmail.cf", $"O QueueDirectory=/var/spool/mqueue\nO AliasFile=hash:{_dir.Path}/aliases\n");

        var errors = _dir.Errors($"recipients:\n  sources: [passwd, aliases]\n  sendmail_cf: {cf}\n", out _);

        Assert.Equal(
            [$"{cf}:2:13: AliasFile entry 'hash:{_dir.Path}/aliases' names {_dir.Path}/aliases, which does not exist (create it, or fix the AliasFile option in sendmail.mc) (read for recipients.sources: aliases)"],
            errors);
    }

    [Fact]
    public void Aliases_source_reads_what_sendmail_cf_names()
    {
        _dir.Write("aliases", "staff: root\n");
        var cf = _dir.Write("sendmail.cf", $"O AliasFile={_dir.Path}/aliases\n");

        var result = _dir.Load($"recipients:\n  sources: [aliases]\n  sendmail_cf: sendmail.cf\n", out _);

        Assert.True(result.Success, string.Join('\n', result.Errors));
        Assert.Equal(cf, result.Config.Options.Recipients.SendmailCf);
    }

    [Fact]
    public void Sendmail_cf_must_exist_when_written()
    {
        var errors = _dir.Errors("recipients:\n  sendmail_cf: /nonexistent/sendmail.cf\n", out var path);
        Assert.Equal([$"{path}:2:16: recipients.sendmail_cf: file not found: /nonexistent/sendmail.cf"], errors);
    }

    [Fact]
    public void Sendmails_own_path_written_out_means_what_leaving_it_out_means_with_or_without_the_file()
    {
        // check-config prints the default; on a host without sendmail (Postfix) that print must load back.
        var result = _dir.Load("recipients:\n  sources: [passwd]\n  sendmail_cf: /etc/mail/sendmail.cf\n", out _);
        Assert.True(result.Success, string.Join('\n', result.Errors));
        Assert.Equal(Milter.Filters.Recipients.SendmailAliasFiles.DefaultSendmailCf, result.Config.Options.Recipients.SendmailCf);
    }

    [Fact]
    public void Missing_configuration_file_is_one_error_naming_it()
    {
        var path = Path.Combine(_dir.Path, "absent.yaml");
        var result = MilterHost.Configuration.ConfigLoader.Load(path);
        var error = Assert.Single(result.Errors);
        Assert.Equal($"{path}: cannot read the configuration: no such file", error.ToString());
    }

    [Fact]
    public void Directory_given_as_configuration_is_refused()
    {
        var result = MilterHost.Configuration.ConfigLoader.Load(_dir.Path);
        Assert.Equal($"{_dir.Path}: is a directory, not a configuration file", Assert.Single(result.Errors).ToString());
    }
}
