# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_wspipe_global_optspecs
    string join \n color= v/verbose q/quiet h/help V/version
end

function __fish_wspipe_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_wspipe_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_wspipe_using_subcommand
    set -l cmd (__fish_wspipe_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c wspipe -n "__fish_wspipe_needs_command" -l color -d 'When to use colour on the terminal' -r -f -a "auto\t'Colour when the output is a terminal and NO_COLOR is unset'
always\t'Always colour'
never\t'Never colour'"
complete -c wspipe -n "__fish_wspipe_needs_command" -s v -l verbose -d 'Print the handshake request and response headers on stderr (credentials redacted)'
complete -c wspipe -n "__fish_wspipe_needs_command" -s q -l quiet -d 'Print nothing on stderr but errors'
complete -c wspipe -n "__fish_wspipe_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c wspipe -n "__fish_wspipe_needs_command" -s V -l version -d 'Print version'
complete -c wspipe -n "__fish_wspipe_needs_command" -f -a "connect" -d 'Open one bidirectional session: a REPL on a terminal, records in and out in a pipe'
complete -c wspipe -n "__fish_wspipe_needs_command" -f -a "send" -d 'Send messages, optionally wait for replies, close cleanly: a step for CI'
complete -c wspipe -n "__fish_wspipe_needs_command" -f -a "listen" -d 'Run a WebSocket server: print what clients send, send them stdin, echo or broadcast'
complete -c wspipe -n "__fish_wspipe_needs_command" -f -a "chat" -d 'Chat in a room: JSON chat messages, names, typing indicators, reconnection'
complete -c wspipe -n "__fish_wspipe_needs_command" -f -a "completions" -d 'Print a shell completion script'
complete -c wspipe -n "__fish_wspipe_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c wspipe -n "__fish_wspipe_using_subcommand connect" -s H -l header -d 'Add a request header to the handshake, as \'Name: value\' (repeatable)' -r
complete -c wspipe -n "__fish_wspipe_using_subcommand connect" -l origin -d 'Set the Origin header' -r
complete -c wspipe -n "__fish_wspipe_using_subcommand connect" -l user-agent -d 'Set the User-Agent header' -r
complete -c wspipe -n "__fish_wspipe_using_subcommand connect" -l subprotocol -d 'Ask for a subprotocol (repeatable); the one the server picks is reported' -r
complete -c wspipe -n "__fish_wspipe_using_subcommand connect" -l auth -d 'HTTP Basic credentials for the handshake' -r
complete -c wspipe -n "__fish_wspipe_using_subcommand connect" -l bearer -d 'A bearer token for the handshake (Authorization: Bearer TOKEN)' -r
complete -c wspipe -n "__fish_wspipe_using_subcommand connect" -l cacert -d 'Trust the CA certificates in this PEM file (in addition to the system roots)' -r -F
complete -c wspipe -n "__fish_wspipe_using_subcommand connect" -l cert -d 'Present this client certificate (PEM); needs --key' -r -F
complete -c wspipe -n "__fish_wspipe_using_subcommand connect" -l key -d 'The private key (PEM) for --cert' -r -F
complete -c wspipe -n "__fish_wspipe_using_subcommand connect" -l proxy -d 'Tunnel through this HTTP proxy (CONNECT); without it HTTPS_PROXY, HTTP_PROXY, ALL_PROXY and NO_PROXY are honoured' -r
complete -c wspipe -n "__fish_wspipe_using_subcommand connect" -l connect-timeout -d 'Give up connecting (TCP, TLS and handshake) after this long' -r
complete -c wspipe -n "__fish_wspipe_using_subcommand connect" -l ping-interval -d 'Send a ping this often to keep the connection alive' -r
complete -c wspipe -n "__fish_wspipe_using_subcommand connect" -l ping-timeout -d 'End the run (exit 4) when a ping gets no pong within this long' -r
complete -c wspipe -n "__fish_wspipe_using_subcommand connect" -l max-message-size -d 'Refuse messages larger than this: incoming (closes with 1009) or read from the input (exit 65)' -r
complete -c wspipe -n "__fish_wspipe_using_subcommand connect" -l max-retries -d 'Give up reconnecting after this many failed attempts in a row (implies --reconnect)' -r
complete -c wspipe -n "__fish_wspipe_using_subcommand connect" -s i -l input -d 'What one input record is' -r -f -a "text\t'One line is one text message, verbatim'
json\t'One line holds one JSON value, sent compact (blank lines skipped)'
base64\t'One line of base64 is one binary message'
binary\t'All of stdin (or each --file) is one binary message'"
complete -c wspipe -n "__fish_wspipe_using_subcommand connect" -s o -l output -d 'How each received message is written' -r -f -a "text\t'Text messages verbatim plus a newline; binary messages as raw bytes'
json\t'One compact JSON value per message (always valid JSON Lines)'
events\t'One JSON object per event: open, text, binary, ping, pong, close, error'"
complete -c wspipe -n "__fish_wspipe_using_subcommand connect" -l close-timeout -d 'After sending Close, wait for the peer\'s Close until it has been silent this long' -r
complete -c wspipe -n "__fish_wspipe_using_subcommand connect" -l linger -d 'After stdin ends, keep printing replies until the peer has sent nothing for this long, then close (0: close at once)' -r
complete -c wspipe -n "__fish_wspipe_using_subcommand connect" -l count -d 'Print exactly this many received messages, then close at once (stdin EOF does not close)' -r
complete -c wspipe -n "__fish_wspipe_using_subcommand connect" -l timeout -d 'A deadline for the whole run (exit 4 when it passes)' -r
complete -c wspipe -n "__fish_wspipe_using_subcommand connect" -l color -d 'When to use colour on the terminal' -r -f -a "auto\t'Colour when the output is a terminal and NO_COLOR is unset'
always\t'Always colour'
never\t'Never colour'"
complete -c wspipe -n "__fish_wspipe_using_subcommand connect" -s k -l insecure -d 'Do not verify the server\'s TLS certificate (a warning is printed)'
complete -c wspipe -n "__fish_wspipe_using_subcommand connect" -l reconnect -d 'Reconnect with exponential backoff when the connection drops'
complete -c wspipe -n "__fish_wspipe_using_subcommand connect" -l timestamps -d 'Add an RFC 3339 "ts" to each event (-o events) or a time prefix on a terminal'
complete -c wspipe -n "__fish_wspipe_using_subcommand connect" -s P -l show-control -d 'Report pings and pongs received (-o events)'
complete -c wspipe -n "__fish_wspipe_using_subcommand connect" -s n -l no-close -d 'Do not close at the end of stdin; wait for the peer or Ctrl-C'
complete -c wspipe -n "__fish_wspipe_using_subcommand connect" -l echo -d 'Mirror mode: send every received message back unchanged'
complete -c wspipe -n "__fish_wspipe_using_subcommand connect" -l no-history -d 'REPL: do not read or write the history file'
complete -c wspipe -n "__fish_wspipe_using_subcommand connect" -l pretty -d 'REPL: pretty-print JSON messages'
complete -c wspipe -n "__fish_wspipe_using_subcommand connect" -s v -l verbose -d 'Print the handshake request and response headers on stderr (credentials redacted)'
complete -c wspipe -n "__fish_wspipe_using_subcommand connect" -s q -l quiet -d 'Print nothing on stderr but errors'
complete -c wspipe -n "__fish_wspipe_using_subcommand connect" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c wspipe -n "__fish_wspipe_using_subcommand send" -s f -l file -d 'Send the records of this file (repeatable; with -i binary each file is one message)' -r -F
complete -c wspipe -n "__fish_wspipe_using_subcommand send" -s H -l header -d 'Add a request header to the handshake, as \'Name: value\' (repeatable)' -r
complete -c wspipe -n "__fish_wspipe_using_subcommand send" -l origin -d 'Set the Origin header' -r
complete -c wspipe -n "__fish_wspipe_using_subcommand send" -l user-agent -d 'Set the User-Agent header' -r
complete -c wspipe -n "__fish_wspipe_using_subcommand send" -l subprotocol -d 'Ask for a subprotocol (repeatable); the one the server picks is reported' -r
complete -c wspipe -n "__fish_wspipe_using_subcommand send" -l auth -d 'HTTP Basic credentials for the handshake' -r
complete -c wspipe -n "__fish_wspipe_using_subcommand send" -l bearer -d 'A bearer token for the handshake (Authorization: Bearer TOKEN)' -r
complete -c wspipe -n "__fish_wspipe_using_subcommand send" -l cacert -d 'Trust the CA certificates in this PEM file (in addition to the system roots)' -r -F
complete -c wspipe -n "__fish_wspipe_using_subcommand send" -l cert -d 'Present this client certificate (PEM); needs --key' -r -F
complete -c wspipe -n "__fish_wspipe_using_subcommand send" -l key -d 'The private key (PEM) for --cert' -r -F
complete -c wspipe -n "__fish_wspipe_using_subcommand send" -l proxy -d 'Tunnel through this HTTP proxy (CONNECT); without it HTTPS_PROXY, HTTP_PROXY, ALL_PROXY and NO_PROXY are honoured' -r
complete -c wspipe -n "__fish_wspipe_using_subcommand send" -l connect-timeout -d 'Give up connecting (TCP, TLS and handshake) after this long' -r
complete -c wspipe -n "__fish_wspipe_using_subcommand send" -l ping-interval -d 'Send a ping this often to keep the connection alive' -r
complete -c wspipe -n "__fish_wspipe_using_subcommand send" -l ping-timeout -d 'End the run (exit 4) when a ping gets no pong within this long' -r
complete -c wspipe -n "__fish_wspipe_using_subcommand send" -l max-message-size -d 'Refuse messages larger than this: incoming (closes with 1009) or read from the input (exit 65)' -r
complete -c wspipe -n "__fish_wspipe_using_subcommand send" -l max-retries -d 'Give up reconnecting after this many failed attempts in a row (implies --reconnect)' -r
complete -c wspipe -n "__fish_wspipe_using_subcommand send" -s i -l input -d 'What one input record is' -r -f -a "text\t'One line is one text message, verbatim'
json\t'One line holds one JSON value, sent compact (blank lines skipped)'
base64\t'One line of base64 is one binary message'
binary\t'All of stdin (or each --file) is one binary message'"
complete -c wspipe -n "__fish_wspipe_using_subcommand send" -s o -l output -d 'How each received message is written' -r -f -a "text\t'Text messages verbatim plus a newline; binary messages as raw bytes'
json\t'One compact JSON value per message (always valid JSON Lines)'
events\t'One JSON object per event: open, text, binary, ping, pong, close, error'"
complete -c wspipe -n "__fish_wspipe_using_subcommand send" -l close-timeout -d 'After sending Close, wait for the peer\'s Close until it has been silent this long' -r
complete -c wspipe -n "__fish_wspipe_using_subcommand send" -l linger -d 'Without --wait/--expect: after the input ends, keep printing replies until the peer has sent nothing for this long, then close (0: close at once)' -r
complete -c wspipe -n "__fish_wspipe_using_subcommand send" -l wait -d 'Close after this many replies' -r
complete -c wspipe -n "__fish_wspipe_using_subcommand send" -l expect -d 'Close as soon as a reply matches this regular expression (repeatable: all must match)' -r
complete -c wspipe -n "__fish_wspipe_using_subcommand send" -l expect-json -d 'Close as soon as a reply\'s JSON value at POINTER equals VALUE, e.g. /status="ok" (repeatable: all must match)' -r
complete -c wspipe -n "__fish_wspipe_using_subcommand send" -l timeout -d 'A deadline for the whole run (default 10s when waiting for replies)' -r
complete -c wspipe -n "__fish_wspipe_using_subcommand send" -l color -d 'When to use colour on the terminal' -r -f -a "auto\t'Colour when the output is a terminal and NO_COLOR is unset'
always\t'Always colour'
never\t'Never colour'"
complete -c wspipe -n "__fish_wspipe_using_subcommand send" -s k -l insecure -d 'Do not verify the server\'s TLS certificate (a warning is printed)'
complete -c wspipe -n "__fish_wspipe_using_subcommand send" -l reconnect -d 'Reconnect with exponential backoff when the connection drops'
complete -c wspipe -n "__fish_wspipe_using_subcommand send" -l timestamps -d 'Add an RFC 3339 "ts" to each event (-o events) or a time prefix on a terminal'
complete -c wspipe -n "__fish_wspipe_using_subcommand send" -s P -l show-control -d 'Report pings and pongs received (-o events)'
complete -c wspipe -n "__fish_wspipe_using_subcommand send" -s v -l verbose -d 'Print the handshake request and response headers on stderr (credentials redacted)'
complete -c wspipe -n "__fish_wspipe_using_subcommand send" -s q -l quiet -d 'Print nothing on stderr but errors'
complete -c wspipe -n "__fish_wspipe_using_subcommand send" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c wspipe -n "__fish_wspipe_using_subcommand listen" -s i -l input -d 'What one input record is' -r -f -a "text\t'One line is one text message, verbatim'
json\t'One line holds one JSON value, sent compact (blank lines skipped)'
base64\t'One line of base64 is one binary message'
binary\t'All of stdin (or each --file) is one binary message'"
complete -c wspipe -n "__fish_wspipe_using_subcommand listen" -s o -l output -d 'How each received message is written' -r -f -a "text\t'Text messages verbatim plus a newline; binary messages as raw bytes'
json\t'One compact JSON value per message (always valid JSON Lines)'
events\t'One JSON object per event: open, text, binary, ping, pong, close, error'"
complete -c wspipe -n "__fish_wspipe_using_subcommand listen" -l max-clients -d 'Refuse connections beyond this many at once (HTTP 503)' -r
complete -c wspipe -n "__fish_wspipe_using_subcommand listen" -l subprotocol -d 'Accept this subprotocol when a client asks for it (repeatable)' -r
complete -c wspipe -n "__fish_wspipe_using_subcommand listen" -l allow-origin -d 'Accept browsers only from this Origin, e.g. https://app.example (repeatable; * for any); others get HTTP 403. Clients that send no Origin (not browsers) are let in' -r
complete -c wspipe -n "__fish_wspipe_using_subcommand listen" -l auth -d 'Require these HTTP Basic credentials of every client (HTTP 401 otherwise)' -r
complete -c wspipe -n "__fish_wspipe_using_subcommand listen" -l bearer -d 'Require this bearer token of every client (Authorization: Bearer TOKEN; HTTP 401 otherwise). With --auth too, either one lets a client in' -r
complete -c wspipe -n "__fish_wspipe_using_subcommand listen" -l tls-cert -d 'Serve wss:// with this certificate chain (PEM); needs --tls-key' -r -F
complete -c wspipe -n "__fish_wspipe_using_subcommand listen" -l tls-key -d 'The private key (PEM) for --tls-cert' -r -F
complete -c wspipe -n "__fish_wspipe_using_subcommand listen" -l max-message-size -d 'Refuse messages larger than this: incoming (closes with 1009) or read from the input (exit 65)' -r
complete -c wspipe -n "__fish_wspipe_using_subcommand listen" -l ping-interval -d 'Send each client a ping this often' -r
complete -c wspipe -n "__fish_wspipe_using_subcommand listen" -l color -d 'When to use colour on the terminal' -r -f -a "auto\t'Colour when the output is a terminal and NO_COLOR is unset'
always\t'Always colour'
never\t'Never colour'"
complete -c wspipe -n "__fish_wspipe_using_subcommand listen" -l timestamps -d 'Add an RFC 3339 "ts" to each event (-o events) or a time prefix on a terminal'
complete -c wspipe -n "__fish_wspipe_using_subcommand listen" -s P -l show-control -d 'Report pings and pongs received (-o events)'
complete -c wspipe -n "__fish_wspipe_using_subcommand listen" -l echo -d 'Echo every message back to its sender'
complete -c wspipe -n "__fish_wspipe_using_subcommand listen" -l broadcast -d 'Relay every message to the other clients on the same URL path (one room per path)'
complete -c wspipe -n "__fish_wspipe_using_subcommand listen" -l once -d 'Serve one connection, then exit with its status'
complete -c wspipe -n "__fish_wspipe_using_subcommand listen" -s v -l verbose -d 'Print the handshake request and response headers on stderr (credentials redacted)'
complete -c wspipe -n "__fish_wspipe_using_subcommand listen" -s q -l quiet -d 'Print nothing on stderr but errors'
complete -c wspipe -n "__fish_wspipe_using_subcommand listen" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c wspipe -n "__fish_wspipe_using_subcommand chat" -l room -d 'Join this room: appends /room/ID to the URL path' -r
complete -c wspipe -n "__fish_wspipe_using_subcommand chat" -l name -d 'Your name in the room (default: the login user)' -r
complete -c wspipe -n "__fish_wspipe_using_subcommand chat" -s o -l output -d 'Without a terminal: how received chat lines are written' -r -f -a "text\t'Text messages verbatim plus a newline; binary messages as raw bytes'
json\t'One compact JSON value per message (always valid JSON Lines)'
events\t'One JSON object per event: open, text, binary, ping, pong, close, error'"
complete -c wspipe -n "__fish_wspipe_using_subcommand chat" -l linger -d 'Without a terminal: after stdin ends, keep printing until the room has been quiet this long, then close (0: close at once)' -r
complete -c wspipe -n "__fish_wspipe_using_subcommand chat" -s H -l header -d 'Add a request header to the handshake, as \'Name: value\' (repeatable)' -r
complete -c wspipe -n "__fish_wspipe_using_subcommand chat" -l origin -d 'Set the Origin header' -r
complete -c wspipe -n "__fish_wspipe_using_subcommand chat" -l user-agent -d 'Set the User-Agent header' -r
complete -c wspipe -n "__fish_wspipe_using_subcommand chat" -l subprotocol -d 'Ask for a subprotocol (repeatable); the one the server picks is reported' -r
complete -c wspipe -n "__fish_wspipe_using_subcommand chat" -l auth -d 'HTTP Basic credentials for the handshake' -r
complete -c wspipe -n "__fish_wspipe_using_subcommand chat" -l bearer -d 'A bearer token for the handshake (Authorization: Bearer TOKEN)' -r
complete -c wspipe -n "__fish_wspipe_using_subcommand chat" -l cacert -d 'Trust the CA certificates in this PEM file (in addition to the system roots)' -r -F
complete -c wspipe -n "__fish_wspipe_using_subcommand chat" -l cert -d 'Present this client certificate (PEM); needs --key' -r -F
complete -c wspipe -n "__fish_wspipe_using_subcommand chat" -l key -d 'The private key (PEM) for --cert' -r -F
complete -c wspipe -n "__fish_wspipe_using_subcommand chat" -l proxy -d 'Tunnel through this HTTP proxy (CONNECT); without it HTTPS_PROXY, HTTP_PROXY, ALL_PROXY and NO_PROXY are honoured' -r
complete -c wspipe -n "__fish_wspipe_using_subcommand chat" -l connect-timeout -d 'Give up connecting (TCP, TLS and handshake) after this long' -r
complete -c wspipe -n "__fish_wspipe_using_subcommand chat" -l ping-interval -d 'Send a ping this often to keep the connection alive' -r
complete -c wspipe -n "__fish_wspipe_using_subcommand chat" -l ping-timeout -d 'End the run (exit 4) when a ping gets no pong within this long' -r
complete -c wspipe -n "__fish_wspipe_using_subcommand chat" -l max-message-size -d 'Refuse messages larger than this: incoming (closes with 1009) or read from the input (exit 65)' -r
complete -c wspipe -n "__fish_wspipe_using_subcommand chat" -l max-retries -d 'Give up reconnecting after this many failed attempts in a row (implies --reconnect)' -r
complete -c wspipe -n "__fish_wspipe_using_subcommand chat" -l color -d 'When to use colour on the terminal' -r -f -a "auto\t'Colour when the output is a terminal and NO_COLOR is unset'
always\t'Always colour'
never\t'Never colour'"
complete -c wspipe -n "__fish_wspipe_using_subcommand chat" -l no-history -d 'Do not read or write the history file'
complete -c wspipe -n "__fish_wspipe_using_subcommand chat" -s k -l insecure -d 'Do not verify the server\'s TLS certificate (a warning is printed)'
complete -c wspipe -n "__fish_wspipe_using_subcommand chat" -l reconnect -d 'Reconnect with exponential backoff when the connection drops'
complete -c wspipe -n "__fish_wspipe_using_subcommand chat" -s v -l verbose -d 'Print the handshake request and response headers on stderr (credentials redacted)'
complete -c wspipe -n "__fish_wspipe_using_subcommand chat" -s q -l quiet -d 'Print nothing on stderr but errors'
complete -c wspipe -n "__fish_wspipe_using_subcommand chat" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c wspipe -n "__fish_wspipe_using_subcommand completions" -l color -d 'When to use colour on the terminal' -r -f -a "auto\t'Colour when the output is a terminal and NO_COLOR is unset'
always\t'Always colour'
never\t'Never colour'"
complete -c wspipe -n "__fish_wspipe_using_subcommand completions" -s v -l verbose -d 'Print the handshake request and response headers on stderr (credentials redacted)'
complete -c wspipe -n "__fish_wspipe_using_subcommand completions" -s q -l quiet -d 'Print nothing on stderr but errors'
complete -c wspipe -n "__fish_wspipe_using_subcommand completions" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c wspipe -n "__fish_wspipe_using_subcommand help; and not __fish_seen_subcommand_from connect send listen chat completions help" -f -a "connect" -d 'Open one bidirectional session: a REPL on a terminal, records in and out in a pipe'
complete -c wspipe -n "__fish_wspipe_using_subcommand help; and not __fish_seen_subcommand_from connect send listen chat completions help" -f -a "send" -d 'Send messages, optionally wait for replies, close cleanly: a step for CI'
complete -c wspipe -n "__fish_wspipe_using_subcommand help; and not __fish_seen_subcommand_from connect send listen chat completions help" -f -a "listen" -d 'Run a WebSocket server: print what clients send, send them stdin, echo or broadcast'
complete -c wspipe -n "__fish_wspipe_using_subcommand help; and not __fish_seen_subcommand_from connect send listen chat completions help" -f -a "chat" -d 'Chat in a room: JSON chat messages, names, typing indicators, reconnection'
complete -c wspipe -n "__fish_wspipe_using_subcommand help; and not __fish_seen_subcommand_from connect send listen chat completions help" -f -a "completions" -d 'Print a shell completion script'
complete -c wspipe -n "__fish_wspipe_using_subcommand help; and not __fish_seen_subcommand_from connect send listen chat completions help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
