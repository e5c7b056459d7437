
using namespace System.Management.Automation
using namespace System.Management.Automation.Language

Register-ArgumentCompleter -Native -CommandName 'wspipe' -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)

    $commandElements = $commandAst.CommandElements
    $command = @(
        'wspipe'
        for ($i = 1; $i -lt $commandElements.Count; $i++) {
            $element = $commandElements[$i]
            if ($element -isnot [StringConstantExpressionAst] -or
                $element.StringConstantType -ne [StringConstantType]::BareWord -or
                $element.Value.StartsWith('-') -or
                $element.Value -eq $wordToComplete) {
                break
        }
        $element.Value
    }) -join ';'

    $completions = @(switch ($command) {
        'wspipe' {
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour on the terminal')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print the handshake request and response headers on stderr (credentials redacted)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print the handshake request and response headers on stderr (credentials redacted)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing on stderr but errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing on stderr but errors')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('connect', 'connect', [CompletionResultType]::ParameterValue, 'Open one bidirectional session: a REPL on a terminal, records in and out in a pipe')
            [CompletionResult]::new('send', 'send', [CompletionResultType]::ParameterValue, 'Send messages, optionally wait for replies, close cleanly: a step for CI')
            [CompletionResult]::new('listen', 'listen', [CompletionResultType]::ParameterValue, 'Run a WebSocket server: print what clients send, send them stdin, echo or broadcast')
            [CompletionResult]::new('chat', 'chat', [CompletionResultType]::ParameterValue, 'Chat in a room: JSON chat messages, names, typing indicators, reconnection')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print a shell completion script')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'wspipe;connect' {
            [CompletionResult]::new('-H', '-H ', [CompletionResultType]::ParameterName, 'Add a request header to the handshake, as ''Name: value'' (repeatable)')
            [CompletionResult]::new('--header', '--header', [CompletionResultType]::ParameterName, 'Add a request header to the handshake, as ''Name: value'' (repeatable)')
            [CompletionResult]::new('--origin', '--origin', [CompletionResultType]::ParameterName, 'Set the Origin header')
            [CompletionResult]::new('--user-agent', '--user-agent', [CompletionResultType]::ParameterName, 'Set the User-Agent header')
            [CompletionResult]::new('--subprotocol', '--subprotocol', [CompletionResultType]::ParameterName, 'Ask for a subprotocol (repeatable); the one the server picks is reported')
            [CompletionResult]::new('--auth', '--auth', [CompletionResultType]::ParameterName, 'HTTP Basic credentials for the handshake')
            [CompletionResult]::new('--bearer', '--bearer', [CompletionResultType]::ParameterName, 'A bearer token for the handshake (Authorization: Bearer TOKEN)')
            [CompletionResult]::new('--cacert', '--cacert', [CompletionResultType]::ParameterName, 'Trust the CA certificates in this PEM file (in addition to the system roots)')
            [CompletionResult]::new('--cert', '--cert', [CompletionResultType]::ParameterName, 'Present this client certificate (PEM); needs --key')
            [CompletionResult]::new('--key', '--key', [CompletionResultType]::ParameterName, 'The private key (PEM) for --cert')
            [CompletionResult]::new('--proxy', '--proxy', [CompletionResultType]::ParameterName, 'Tunnel through this HTTP proxy (CONNECT); without it HTTPS_PROXY, HTTP_PROXY, ALL_PROXY and NO_PROXY are honoured')
            [CompletionResult]::new('--connect-timeout', '--connect-timeout', [CompletionResultType]::ParameterName, 'Give up connecting (TCP, TLS and handshake) after this long')
            [CompletionResult]::new('--ping-interval', '--ping-interval', [CompletionResultType]::ParameterName, 'Send a ping this often to keep the connection alive')
            [CompletionResult]::new('--ping-timeout', '--ping-timeout', [CompletionResultType]::ParameterName, 'End the run (exit 4) when a ping gets no pong within this long')
            [CompletionResult]::new('--max-message-size', '--max-message-size', [CompletionResultType]::ParameterName, 'Refuse messages larger than this: incoming (closes with 1009) or read from the input (exit 65)')
            [CompletionResult]::new('--max-retries', '--max-retries', [CompletionResultType]::ParameterName, 'Give up reconnecting after this many failed attempts in a row (implies --reconnect)')
            [CompletionResult]::new('-i', '-i', [CompletionResultType]::ParameterName, 'What one input record is')
            [CompletionResult]::new('--input', '--input', [CompletionResultType]::ParameterName, 'What one input record is')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'How each received message is written')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'How each received message is written')
            [CompletionResult]::new('--close-timeout', '--close-timeout', [CompletionResultType]::ParameterName, 'After sending Close, wait for the peer''s Close until it has been silent this long')
            [CompletionResult]::new('--linger', '--linger', [CompletionResultType]::ParameterName, 'After stdin ends, keep printing replies until the peer has sent nothing for this long, then close (0: close at once)')
            [CompletionResult]::new('--count', '--count', [CompletionResultType]::ParameterName, 'Print exactly this many received messages, then close at once (stdin EOF does not close)')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'A deadline for the whole run (exit 4 when it passes)')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour on the terminal')
            [CompletionResult]::new('-k', '-k', [CompletionResultType]::ParameterName, 'Do not verify the server''s TLS certificate (a warning is printed)')
            [CompletionResult]::new('--insecure', '--insecure', [CompletionResultType]::ParameterName, 'Do not verify the server''s TLS certificate (a warning is printed)')
            [CompletionResult]::new('--reconnect', '--reconnect', [CompletionResultType]::ParameterName, 'Reconnect with exponential backoff when the connection drops')
            [CompletionResult]::new('--timestamps', '--timestamps', [CompletionResultType]::ParameterName, 'Add an RFC 3339 "ts" to each event (-o events) or a time prefix on a terminal')
            [CompletionResult]::new('-P', '-P ', [CompletionResultType]::ParameterName, 'Report pings and pongs received (-o events)')
            [CompletionResult]::new('--show-control', '--show-control', [CompletionResultType]::ParameterName, 'Report pings and pongs received (-o events)')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Do not close at the end of stdin; wait for the peer or Ctrl-C')
            [CompletionResult]::new('--no-close', '--no-close', [CompletionResultType]::ParameterName, 'Do not close at the end of stdin; wait for the peer or Ctrl-C')
            [CompletionResult]::new('--echo', '--echo', [CompletionResultType]::ParameterName, 'Mirror mode: send every received message back unchanged')
            [CompletionResult]::new('--no-history', '--no-history', [CompletionResultType]::ParameterName, 'REPL: do not read or write the history file')
            [CompletionResult]::new('--pretty', '--pretty', [CompletionResultType]::ParameterName, 'REPL: pretty-print JSON messages')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print the handshake request and response headers on stderr (credentials redacted)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print the handshake request and response headers on stderr (credentials redacted)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing on stderr but errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing on stderr but errors')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'wspipe;send' {
            [CompletionResult]::new('-f', '-f', [CompletionResultType]::ParameterName, 'Send the records of this file (repeatable; with -i binary each file is one message)')
            [CompletionResult]::new('--file', '--file', [CompletionResultType]::ParameterName, 'Send the records of this file (repeatable; with -i binary each file is one message)')
            [CompletionResult]::new('-H', '-H ', [CompletionResultType]::ParameterName, 'Add a request header to the handshake, as ''Name: value'' (repeatable)')
            [CompletionResult]::new('--header', '--header', [CompletionResultType]::ParameterName, 'Add a request header to the handshake, as ''Name: value'' (repeatable)')
            [CompletionResult]::new('--origin', '--origin', [CompletionResultType]::ParameterName, 'Set the Origin header')
            [CompletionResult]::new('--user-agent', '--user-agent', [CompletionResultType]::ParameterName, 'Set the User-Agent header')
            [CompletionResult]::new('--subprotocol', '--subprotocol', [CompletionResultType]::ParameterName, 'Ask for a subprotocol (repeatable); the one the server picks is reported')
            [CompletionResult]::new('--auth', '--auth', [CompletionResultType]::ParameterName, 'HTTP Basic credentials for the handshake')
            [CompletionResult]::new('--bearer', '--bearer', [CompletionResultType]::ParameterName, 'A bearer token for the handshake (Authorization: Bearer TOKEN)')
            [CompletionResult]::new('--cacert', '--cacert', [CompletionResultType]::ParameterName, 'Trust the CA certificates in this PEM file (in addition to the system roots)')
            [CompletionResult]::new('--cert', '--cert', [CompletionResultType]::ParameterName, 'Present this client certificate (PEM); needs --key')
            [CompletionResult]::new('--key', '--key', [CompletionResultType]::ParameterName, 'The private key (PEM) for --cert')
            [CompletionResult]::new('--proxy', '--proxy', [CompletionResultType]::ParameterName, 'Tunnel through this HTTP proxy (CONNECT); without it HTTPS_PROXY, HTTP_PROXY, ALL_PROXY and NO_PROXY are honoured')
            [CompletionResult]::new('--connect-timeout', '--connect-timeout', [CompletionResultType]::ParameterName, 'Give up connecting (TCP, TLS and handshake) after this long')
            [CompletionResult]::new('--ping-interval', '--ping-interval', [CompletionResultType]::ParameterName, 'Send a ping this often to keep the connection alive')
            [CompletionResult]::new('--ping-timeout', '--ping-timeout', [CompletionResultType]::ParameterName, 'End the run (exit 4) when a ping gets no pong within this long')
            [CompletionResult]::new('--max-message-size', '--max-message-size', [CompletionResultType]::ParameterName, 'Refuse messages larger than this: incoming (closes with 1009) or read from the input (exit 65)')
            [CompletionResult]::new('--max-retries', '--max-retries', [CompletionResultType]::ParameterName, 'Give up reconnecting after this many failed attempts in a row (implies --reconnect)')
            [CompletionResult]::new('-i', '-i', [CompletionResultType]::ParameterName, 'What one input record is')
            [CompletionResult]::new('--input', '--input', [CompletionResultType]::ParameterName, 'What one input record is')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'How each received message is written')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'How each received message is written')
            [CompletionResult]::new('--close-timeout', '--close-timeout', [CompletionResultType]::ParameterName, 'After sending Close, wait for the peer''s Close until it has been silent this long')
            [CompletionResult]::new('--linger', '--linger', [CompletionResultType]::ParameterName, 'Without --wait/--expect: after the input ends, keep printing replies until the peer has sent nothing for this long, then close (0: close at once)')
            [CompletionResult]::new('--wait', '--wait', [CompletionResultType]::ParameterName, 'Close after this many replies')
            [CompletionResult]::new('--expect', '--expect', [CompletionResultType]::ParameterName, 'Close as soon as a reply matches this regular expression (repeatable: all must match)')
            [CompletionResult]::new('--expect-json', '--expect-json', [CompletionResultType]::ParameterName, 'Close as soon as a reply''s JSON value at POINTER equals VALUE, e.g. /status="ok" (repeatable: all must match)')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'A deadline for the whole run (default 10s when waiting for replies)')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour on the terminal')
            [CompletionResult]::new('-k', '-k', [CompletionResultType]::ParameterName, 'Do not verify the server''s TLS certificate (a warning is printed)')
            [CompletionResult]::new('--insecure', '--insecure', [CompletionResultType]::ParameterName, 'Do not verify the server''s TLS certificate (a warning is printed)')
            [CompletionResult]::new('--reconnect', '--reconnect', [CompletionResultType]::ParameterName, 'Reconnect with exponential backoff when the connection drops')
            [CompletionResult]::new('--timestamps', '--timestamps', [CompletionResultType]::ParameterName, 'Add an RFC 3339 "ts" to each event (-o events) or a time prefix on a terminal')
            [CompletionResult]::new('-P', '-P ', [CompletionResultType]::ParameterName, 'Report pings and pongs received (-o events)')
            [CompletionResult]::new('--show-control', '--show-control', [CompletionResultType]::ParameterName, 'Report pings and pongs received (-o events)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print the handshake request and response headers on stderr (credentials redacted)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print the handshake request and response headers on stderr (credentials redacted)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing on stderr but errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing on stderr but errors')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'wspipe;listen' {
            [CompletionResult]::new('-i', '-i', [CompletionResultType]::ParameterName, 'What one input record is')
            [CompletionResult]::new('--input', '--input', [CompletionResultType]::ParameterName, 'What one input record is')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'How each received message is written')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'How each received message is written')
            [CompletionResult]::new('--max-clients', '--max-clients', [CompletionResultType]::ParameterName, 'Refuse connections beyond this many at once (HTTP 503)')
            [CompletionResult]::new('--subprotocol', '--subprotocol', [CompletionResultType]::ParameterName, 'Accept this subprotocol when a client asks for it (repeatable)')
            [CompletionResult]::new('--allow-origin', '--allow-origin', [CompletionResultType]::ParameterName, 'Accept browsers only from this Origin, e.g. https://app.example (repeatable; * for any); others get HTTP 403. Clients that send no Origin (not browsers) are let in')
            [CompletionResult]::new('--auth', '--auth', [CompletionResultType]::ParameterName, 'Require these HTTP Basic credentials of every client (HTTP 401 otherwise)')
            [CompletionResult]::new('--bearer', '--bearer', [CompletionResultType]::ParameterName, 'Require this bearer token of every client (Authorization: Bearer TOKEN; HTTP 401 otherwise). With --auth too, either one lets a client in')
            [CompletionResult]::new('--tls-cert', '--tls-cert', [CompletionResultType]::ParameterName, 'Serve wss:// with this certificate chain (PEM); needs --tls-key')
            [CompletionResult]::new('--tls-key', '--tls-key', [CompletionResultType]::ParameterName, 'The private key (PEM) for --tls-cert')
            [CompletionResult]::new('--max-message-size', '--max-message-size', [CompletionResultType]::ParameterName, 'Refuse messages larger than this: incoming (closes with 1009) or read from the input (exit 65)')
            [CompletionResult]::new('--ping-interval', '--ping-interval', [CompletionResultType]::ParameterName, 'Send each client a ping this often')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour on the terminal')
            [CompletionResult]::new('--timestamps', '--timestamps', [CompletionResultType]::ParameterName, 'Add an RFC 3339 "ts" to each event (-o events) or a time prefix on a terminal')
            [CompletionResult]::new('-P', '-P ', [CompletionResultType]::ParameterName, 'Report pings and pongs received (-o events)')
            [CompletionResult]::new('--show-control', '--show-control', [CompletionResultType]::ParameterName, 'Report pings and pongs received (-o events)')
            [CompletionResult]::new('--echo', '--echo', [CompletionResultType]::ParameterName, 'Echo every message back to its sender')
            [CompletionResult]::new('--broadcast', '--broadcast', [CompletionResultType]::ParameterName, 'Relay every message to the other clients on the same URL path (one room per path)')
            [CompletionResult]::new('--once', '--once', [CompletionResultType]::ParameterName, 'Serve one connection, then exit with its status')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print the handshake request and response headers on stderr (credentials redacted)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print the handshake request and response headers on stderr (credentials redacted)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing on stderr but errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing on stderr but errors')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'wspipe;chat' {
            [CompletionResult]::new('--room', '--room', [CompletionResultType]::ParameterName, 'Join this room: appends /room/ID to the URL path')
            [CompletionResult]::new('--name', '--name', [CompletionResultType]::ParameterName, 'Your name in the room (default: the login user)')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Without a terminal: how received chat lines are written')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Without a terminal: how received chat lines are written')
            [CompletionResult]::new('--linger', '--linger', [CompletionResultType]::ParameterName, 'Without a terminal: after stdin ends, keep printing until the room has been quiet this long, then close (0: close at once)')
            [CompletionResult]::new('-H', '-H ', [CompletionResultType]::ParameterName, 'Add a request header to the handshake, as ''Name: value'' (repeatable)')
            [CompletionResult]::new('--header', '--header', [CompletionResultType]::ParameterName, 'Add a request header to the handshake, as ''Name: value'' (repeatable)')
            [CompletionResult]::new('--origin', '--origin', [CompletionResultType]::ParameterName, 'Set the Origin header')
            [CompletionResult]::new('--user-agent', '--user-agent', [CompletionResultType]::ParameterName, 'Set the User-Agent header')
            [CompletionResult]::new('--subprotocol', '--subprotocol', [CompletionResultType]::ParameterName, 'Ask for a subprotocol (repeatable); the one the server picks is reported')
            [CompletionResult]::new('--auth', '--auth', [CompletionResultType]::ParameterName, 'HTTP Basic credentials for the handshake')
            [CompletionResult]::new('--bearer', '--bearer', [CompletionResultType]::ParameterName, 'A bearer token for the handshake (Authorization: Bearer TOKEN)')
            [CompletionResult]::new('--cacert', '--cacert', [CompletionResultType]::ParameterName, 'Trust the CA certificates in this PEM file (in addition to the system roots)')
            [CompletionResult]::new('--cert', '--cert', [CompletionResultType]::ParameterName, 'Present this client certificate (PEM); needs --key')
            [CompletionResult]::new('--key', '--key', [CompletionResultType]::ParameterName, 'The private key (PEM) for --cert')
            [CompletionResult]::new('--proxy', '--proxy', [CompletionResultType]::ParameterName, 'Tunnel through this HTTP proxy (CONNECT); without it HTTPS_PROXY, HTTP_PROXY, ALL_PROXY and NO_PROXY are honoured')
            [CompletionResult]::new('--connect-timeout', '--connect-timeout', [CompletionResultType]::ParameterName, 'Give up connecting (TCP, TLS and handshake) after this long')
            [CompletionResult]::new('--ping-interval', '--ping-interval', [CompletionResultType]::ParameterName, 'Send a ping this often to keep the connection alive')
            [CompletionResult]::new('--ping-timeout', '--ping-timeout', [CompletionResultType]::ParameterName, 'End the run (exit 4) when a ping gets no pong within this long')
            [CompletionResult]::new('--max-message-size', '--max-message-size', [CompletionResultType]::ParameterName, 'Refuse messages larger than this: incoming (closes with 1009) or read from the input (exit 65)')
            [CompletionResult]::new('--max-retries', '--max-retries', [CompletionResultType]::ParameterName, 'Give up reconnecting after this many failed attempts in a row (implies --reconnect)')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour on the terminal')
            [CompletionResult]::new('--no-history', '--no-history', [CompletionResultType]::ParameterName, 'Do not read or write the history file')
            [CompletionResult]::new('-k', '-k', [CompletionResultType]::ParameterName, 'Do not verify the server''s TLS certificate (a warning is printed)')
            [CompletionResult]::new('--insecure', '--insecure', [CompletionResultType]::ParameterName, 'Do not verify the server''s TLS certificate (a warning is printed)')
            [CompletionResult]::new('--reconnect', '--reconnect', [CompletionResultType]::ParameterName, 'Reconnect with exponential backoff when the connection drops')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print the handshake request and response headers on stderr (credentials redacted)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print the handshake request and response headers on stderr (credentials redacted)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing on stderr but errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing on stderr but errors')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'wspipe;completions' {
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour on the terminal')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print the handshake request and response headers on stderr (credentials redacted)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print the handshake request and response headers on stderr (credentials redacted)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing on stderr but errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing on stderr but errors')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'wspipe;help' {
            [CompletionResult]::new('connect', 'connect', [CompletionResultType]::ParameterValue, 'Open one bidirectional session: a REPL on a terminal, records in and out in a pipe')
            [CompletionResult]::new('send', 'send', [CompletionResultType]::ParameterValue, 'Send messages, optionally wait for replies, close cleanly: a step for CI')
            [CompletionResult]::new('listen', 'listen', [CompletionResultType]::ParameterValue, 'Run a WebSocket server: print what clients send, send them stdin, echo or broadcast')
            [CompletionResult]::new('chat', 'chat', [CompletionResultType]::ParameterValue, 'Chat in a room: JSON chat messages, names, typing indicators, reconnection')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print a shell completion script')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'wspipe;help;connect' {
            break
        }
        'wspipe;help;send' {
            break
        }
        'wspipe;help;listen' {
            break
        }
        'wspipe;help;chat' {
            break
        }
        'wspipe;help;completions' {
            break
        }
        'wspipe;help;help' {
            break
        }
    })

    $completions.Where{ $_.CompletionText -like "$wordToComplete*" } |
        Sort-Object -Property ListItemText
}
