
use builtin;
use str;

set edit:completion:arg-completer[wspipe] = {|@words|
    fn spaces {|n|
        builtin:repeat $n ' ' | str:join ''
    }
    fn cand {|text desc|
        edit:complex-candidate $text &display=$text' '(spaces (- 14 (wcswidth $text)))$desc
    }
    var command = 'wspipe'
    for word $words[1..-1] {
        if (str:has-prefix $word '-') {
            break
        }
        set command = $command';'$word
    }
    var completions = [
        &'wspipe'= {
            cand --color 'When to use colour on the terminal'
            cand -v 'Print the handshake request and response headers on stderr (credentials redacted)'
            cand --verbose 'Print the handshake request and response headers on stderr (credentials redacted)'
            cand -q 'Print nothing on stderr but errors'
            cand --quiet 'Print nothing on stderr but errors'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
            cand connect 'Open one bidirectional session: a REPL on a terminal, records in and out in a pipe'
            cand send 'Send messages, optionally wait for replies, close cleanly: a step for CI'
            cand listen 'Run a WebSocket server: print what clients send, send them stdin, echo or broadcast'
            cand chat 'Chat in a room: JSON chat messages, names, typing indicators, reconnection'
            cand completions 'Print a shell completion script'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'wspipe;connect'= {
            cand -H 'Add a request header to the handshake, as ''Name: value'' (repeatable)'
            cand --header 'Add a request header to the handshake, as ''Name: value'' (repeatable)'
            cand --origin 'Set the Origin header'
            cand --user-agent 'Set the User-Agent header'
            cand --subprotocol 'Ask for a subprotocol (repeatable); the one the server picks is reported'
            cand --auth 'HTTP Basic credentials for the handshake'
            cand --bearer 'A bearer token for the handshake (Authorization: Bearer TOKEN)'
            cand --cacert 'Trust the CA certificates in this PEM file (in addition to the system roots)'
            cand --cert 'Present this client certificate (PEM); needs --key'
            cand --key 'The private key (PEM) for --cert'
            cand --proxy 'Tunnel through this HTTP proxy (CONNECT); without it HTTPS_PROXY, HTTP_PROXY, ALL_PROXY and NO_PROXY are honoured'
            cand --connect-timeout 'Give up connecting (TCP, TLS and handshake) after this long'
            cand --ping-interval 'Send a ping this often to keep the connection alive'
            cand --ping-timeout 'End the run (exit 4) when a ping gets no pong within this long'
            cand --max-message-size 'Refuse messages larger than this: incoming (closes with 1009) or read from the input (exit 65)'
            cand --max-retries 'Give up reconnecting after this many failed attempts in a row (implies --reconnect)'
            cand -i 'What one input record is'
            cand --input 'What one input record is'
            cand -o 'How each received message is written'
            cand --output 'How each received message is written'
            cand --close-timeout 'After sending Close, wait for the peer''s Close until it has been silent this long'
            cand --linger 'After stdin ends, keep printing replies until the peer has sent nothing for this long, then close (0: close at once)'
            cand --count 'Print exactly this many received messages, then close at once (stdin EOF does not close)'
            cand --timeout 'A deadline for the whole run (exit 4 when it passes)'
            cand --color 'When to use colour on the terminal'
            cand -k 'Do not verify the server''s TLS certificate (a warning is printed)'
            cand --insecure 'Do not verify the server''s TLS certificate (a warning is printed)'
            cand --reconnect 'Reconnect with exponential backoff when the connection drops'
            cand --timestamps 'Add an RFC 3339 "ts" to each event (-o events) or a time prefix on a terminal'
            cand -P 'Report pings and pongs received (-o events)'
            cand --show-control 'Report pings and pongs received (-o events)'
            cand -n 'Do not close at the end of stdin; wait for the peer or Ctrl-C'
            cand --no-close 'Do not close at the end of stdin; wait for the peer or Ctrl-C'
            cand --echo 'Mirror mode: send every received message back unchanged'
            cand --no-history 'REPL: do not read or write the history file'
            cand --pretty 'REPL: pretty-print JSON messages'
            cand -v 'Print the handshake request and response headers on stderr (credentials redacted)'
            cand --verbose 'Print the handshake request and response headers on stderr (credentials redacted)'
            cand -q 'Print nothing on stderr but errors'
            cand --quiet 'Print nothing on stderr but errors'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'wspipe;send'= {
            cand -f 'Send the records of this file (repeatable; with -i binary each file is one message)'
            cand --file 'Send the records of this file (repeatable; with -i binary each file is one message)'
            cand -H 'Add a request header to the handshake, as ''Name: value'' (repeatable)'
            cand --header 'Add a request header to the handshake, as ''Name: value'' (repeatable)'
            cand --origin 'Set the Origin header'
            cand --user-agent 'Set the User-Agent header'
            cand --subprotocol 'Ask for a subprotocol (repeatable); the one the server picks is reported'
            cand --auth 'HTTP Basic credentials for the handshake'
            cand --bearer 'A bearer token for the handshake (Authorization: Bearer TOKEN)'
            cand --cacert 'Trust the CA certificates in this PEM file (in addition to the system roots)'
            cand --cert 'Present this client certificate (PEM); needs --key'
            cand --key 'The private key (PEM) for --cert'
            cand --proxy 'Tunnel through this HTTP proxy (CONNECT); without it HTTPS_PROXY, HTTP_PROXY, ALL_PROXY and NO_PROXY are honoured'
            cand --connect-timeout 'Give up connecting (TCP, TLS and handshake) after this long'
            cand --ping-interval 'Send a ping this often to keep the connection alive'
            cand --ping-timeout 'End the run (exit 4) when a ping gets no pong within this long'
            cand --max-message-size 'Refuse messages larger than this: incoming (closes with 1009) or read from the input (exit 65)'
            cand --max-retries 'Give up reconnecting after this many failed attempts in a row (implies --reconnect)'
            cand -i 'What one input record is'
            cand --input 'What one input record is'
            cand -o 'How each received message is written'
            cand --output 'How each received message is written'
            cand --close-timeout 'After sending Close, wait for the peer''s Close until it has been silent this long'
            cand --linger 'Without --wait/--expect: after the input ends, keep printing replies until the peer has sent nothing for this long, then close (0: close at once)'
            cand --wait 'Close after this many replies'
            cand --expect 'Close as soon as a reply matches this regular expression (repeatable: all must match)'
            cand --expect-json 'Close as soon as a reply''s JSON value at POINTER equals VALUE, e.g. /status="ok" (repeatable: all must match)'
            cand --timeout 'A deadline for the whole run (default 10s when waiting for replies)'
            cand --color 'When to use colour on the terminal'
            cand -k 'Do not verify the server''s TLS certificate (a warning is printed)'
            cand --insecure 'Do not verify the server''s TLS certificate (a warning is printed)'
            cand --reconnect 'Reconnect with exponential backoff when the connection drops'
            cand --timestamps 'Add an RFC 3339 "ts" to each event (-o events) or a time prefix on a terminal'
            cand -P 'Report pings and pongs received (-o events)'
            cand --show-control 'Report pings and pongs received (-o events)'
            cand -v 'Print the handshake request and response headers on stderr (credentials redacted)'
            cand --verbose 'Print the handshake request and response headers on stderr (credentials redacted)'
            cand -q 'Print nothing on stderr but errors'
            cand --quiet 'Print nothing on stderr but errors'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'wspipe;listen'= {
            cand -i 'What one input record is'
            cand --input 'What one input record is'
            cand -o 'How each received message is written'
            cand --output 'How each received message is written'
            cand --max-clients 'Refuse connections beyond this many at once (HTTP 503)'
            cand --subprotocol 'Accept this subprotocol when a client asks for it (repeatable)'
            cand --allow-origin 'Accept browsers only from this Origin, e.g. https://app.example (repeatable; * for any); others get HTTP 403. Clients that send no Origin (not browsers) are let in'
            cand --auth 'Require these HTTP Basic credentials of every client (HTTP 401 otherwise)'
            cand --bearer 'Require this bearer token of every client (Authorization: Bearer TOKEN; HTTP 401 otherwise). With --auth too, either one lets a client in'
            cand --tls-cert 'Serve wss:// with this certificate chain (PEM); needs --tls-key'
            cand --tls-key 'The private key (PEM) for --tls-cert'
            cand --max-message-size 'Refuse messages larger than this: incoming (closes with 1009) or read from the input (exit 65)'
            cand --ping-interval 'Send each client a ping this often'
            cand --color 'When to use colour on the terminal'
            cand --timestamps 'Add an RFC 3339 "ts" to each event (-o events) or a time prefix on a terminal'
            cand -P 'Report pings and pongs received (-o events)'
            cand --show-control 'Report pings and pongs received (-o events)'
            cand --echo 'Echo every message back to its sender'
            cand --broadcast 'Relay every message to the other clients on the same URL path (one room per path)'
            cand --once 'Serve one connection, then exit with its status'
            cand -v 'Print the handshake request and response headers on stderr (credentials redacted)'
            cand --verbose 'Print the handshake request and response headers on stderr (credentials redacted)'
            cand -q 'Print nothing on stderr but errors'
            cand --quiet 'Print nothing on stderr but errors'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'wspipe;chat'= {
            cand --room 'Join this room: appends /room/ID to the URL path'
            cand --name 'Your name in the room (default: the login user)'
            cand -o 'Without a terminal: how received chat lines are written'
            cand --output 'Without a terminal: how received chat lines are written'
            cand --linger 'Without a terminal: after stdin ends, keep printing until the room has been quiet this long, then close (0: close at once)'
            cand -H 'Add a request header to the handshake, as ''Name: value'' (repeatable)'
            cand --header 'Add a request header to the handshake, as ''Name: value'' (repeatable)'
            cand --origin 'Set the Origin header'
            cand --user-agent 'Set the User-Agent header'
            cand --subprotocol 'Ask for a subprotocol (repeatable); the one the server picks is reported'
            cand --auth 'HTTP Basic credentials for the handshake'
            cand --bearer 'A bearer token for the handshake (Authorization: Bearer TOKEN)'
            cand --cacert 'Trust the CA certificates in this PEM file (in addition to the system roots)'
            cand --cert 'Present this client certificate (PEM); needs --key'
            cand --key 'The private key (PEM) for --cert'
            cand --proxy 'Tunnel through this HTTP proxy (CONNECT); without it HTTPS_PROXY, HTTP_PROXY, ALL_PROXY and NO_PROXY are honoured'
            cand --connect-timeout 'Give up connecting (TCP, TLS and handshake) after this long'
            cand --ping-interval 'Send a ping this often to keep the connection alive'
            cand --ping-timeout 'End the run (exit 4) when a ping gets no pong within this long'
            cand --max-message-size 'Refuse messages larger than this: incoming (closes with 1009) or read from the input (exit 65)'
            cand --max-retries 'Give up reconnecting after this many failed attempts in a row (implies --reconnect)'
            cand --color 'When to use colour on the terminal'
            cand --no-history 'Do not read or write the history file'
            cand -k 'Do not verify the server''s TLS certificate (a warning is printed)'
            cand --insecure 'Do not verify the server''s TLS certificate (a warning is printed)'
            cand --reconnect 'Reconnect with exponential backoff when the connection drops'
            cand -v 'Print the handshake request and response headers on stderr (credentials redacted)'
            cand --verbose 'Print the handshake request and response headers on stderr (credentials redacted)'
            cand -q 'Print nothing on stderr but errors'
            cand --quiet 'Print nothing on stderr but errors'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'wspipe;completions'= {
            cand --color 'When to use colour on the terminal'
            cand -v 'Print the handshake request and response headers on stderr (credentials redacted)'
            cand --verbose 'Print the handshake request and response headers on stderr (credentials redacted)'
            cand -q 'Print nothing on stderr but errors'
            cand --quiet 'Print nothing on stderr but errors'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'wspipe;help'= {
            cand connect 'Open one bidirectional session: a REPL on a terminal, records in and out in a pipe'
            cand send 'Send messages, optionally wait for replies, close cleanly: a step for CI'
            cand listen 'Run a WebSocket server: print what clients send, send them stdin, echo or broadcast'
            cand chat 'Chat in a room: JSON chat messages, names, typing indicators, reconnection'
            cand completions 'Print a shell completion script'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'wspipe;help;connect'= {
        }
        &'wspipe;help;send'= {
        }
        &'wspipe;help;listen'= {
        }
        &'wspipe;help;chat'= {
        }
        &'wspipe;help;completions'= {
        }
        &'wspipe;help;help'= {
        }
    ]
    $completions[$command]
}
