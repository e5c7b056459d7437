#!/usr/bin/env bash
# Autobahn TestSuite server conformance (fuzzingclient mode) for a command-line echo server.
# Loopback only: the server under test listens on 127.0.0.1 and wstest connects there.
#
# usage (from the project's root):
#        scripts/autobahn/server.sh wspipe        (target/release/wspipe, or WSPIPE=path)
#        scripts/autobahn/server.sh websocat      (the peer, if installed)
#        AB_SERVER_CMD='some-server --echo 127.0.0.1:{port}' scripts/autobahn/server.sh NAME
# Per-case reports (sent, expected, received, wire log): $AB_OUT/reports/servers/.
#
# The server must echo every message back with its type (text/binary) and follow the
# close handshake. It is started once, on 127.0.0.1:$AB_PORT; once it listens (ss, no probe
# connection) `wstest -m fuzzingclient` runs every case against ws://127.0.0.1:$AB_PORT
# (one connection per case), writes reports/servers/, and the JSON report is summarised
# (OK / NON-STRICT / INFORMATIONAL / FAILED / UNCLEAN / WRONG CODE ...).
#
# The Python 2.7 + autobahntestsuite 0.8.2 install is the one client.sh (beside this file)
# builds in $AB_HOME (see there for why and how); it is set up here through it if missing.
#
# env: AB_HOME (/tmp/autobahn-py27), AB_PORT (a free port), AB_CASES ('*'), AB_EXCLUDE
#      ('12.* 13.*': permessage-deflate), AB_TIMEOUT (900 s for the whole wstest run),
#      WSPIPE (path of the wspipe binary), AB_OUT (where reports go; a fresh temporary folder
#      by default)
set -uo pipefail
export LC_ALL=C

AGENT=${1:-wspipe}
AB_HOME=${AB_HOME:-/tmp/autobahn-py27}
AB_CASES=${AB_CASES:-*}
AB_EXCLUDE=${AB_EXCLUDE:-12.* 13.*}
AB_TIMEOUT=${AB_TIMEOUT:-900}
WSPIPE=${WSPIPE:-$( [[ -x target/release/wspipe ]] && echo "$PWD/target/release/wspipe" || command -v wspipe || echo wspipe)}

# ------------------------------------------------------------------ server command
if [[ -n ${AB_SERVER_CMD:-} ]]; then
    CMD_TEMPLATE=$AB_SERVER_CMD
else
    case $AGENT in
        wspipe)
            [[ -x $WSPIPE ]] || { echo "SKIP wspipe: not built ($WSPIPE missing)"; exit 0; }
            # --max-message-size: the largest case message (9.1.6 / 9.2.6) is 16 MiB
            CMD_TEMPLATE="$WSPIPE listen --echo -q --max-message-size 64MiB 127.0.0.1:{port}" ;;
        websocat)
            WEBSOCAT=$(command -v websocat || { [[ -x $HOME/.cargo/bin/websocat ]] && echo "$HOME/.cargo/bin/websocat"; })
            [[ -n $WEBSOCAT ]] || { echo "SKIP websocat: not installed (cargo install websocat --locked)"; exit 0; }
            # ws-l: ... mirror: is websocat's echo server (`-s` would connect clients to stdio,
            # not echo them). The prefixes carry the message type through the mirror
            # (received text gets "{T}", binary "{B}"; on the way out the prefix is stripped
            # and picks the type). Not one-letter T/B: websocat strips the
            # text prefix and then the binary one too, so an echoed text message that starts
            # with "B" (9.1.x/9.5.x send "BAsd7&jh23...") would go out as binary, less its "B".
            # -B: largest case message is 16 MiB.
            CMD_TEMPLATE="$WEBSOCAT -q -B 20000000 --text-prefix={T} --binary-prefix={B} ws-l:127.0.0.1:{port} mirror:" ;;
        *)
            echo "unknown server '$AGENT': set AB_SERVER_CMD='command ... {port}'" >&2
            exit 2 ;;
    esac
fi

# ------------------------------------------------------------------ Python 2.7 + wstest
PY2=$AB_HOME/root/usr/bin/python2.7
SITE=$AB_HOME/site
if [[ ! -f $AB_HOME/.ok || ! -f $AB_HOME/wstest.py ]]; then
    AB_HOME=$AB_HOME AB_SETUP_ONLY=1 bash "$(dirname "${BASH_SOURCE[0]}")/client.sh" x ||
        { echo "autobahntestsuite could not be set up in $AB_HOME" >&2; exit 1; }
fi

listening() { [[ -n $(ss -ltnH "sport = :$1" 2>/dev/null) ]]; }
if [[ -z ${AB_PORT:-} ]]; then
    for _ in 1 2 3 4 5; do
        AB_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
        listening "$AB_PORT" || break
    done
fi
if listening "$AB_PORT"; then
    echo "port 127.0.0.1:$AB_PORT is already taken" >&2
    exit 1
fi

# ------------------------------------------------------------------ run
STAMP=$(date +%Y%m%d-%H%M%S)
OUT=${AB_OUT:-$(mktemp -d)/autobahn-server-$AGENT-$STAMP}
mkdir -p "$OUT"
set -f # the case patterns are not file globs
# shellcheck disable=SC2086
cases_json=$(printf '"%s",' $AB_CASES) exclude_json=$(printf '"%s",' $AB_EXCLUDE)
set +f
[[ -z ${AB_EXCLUDE// /} ]] && exclude_json=
cat >"$OUT/fuzzingclient.json" <<EOF
{
  "outdir": "$OUT/reports/servers",
  "servers": [{"agent": "$AGENT", "url": "ws://127.0.0.1:$AB_PORT"}],
  "cases": [${cases_json%,}],
  "exclude-cases": [${exclude_json%,}],
  "exclude-agent-cases": {}
}
EOF

SRV= AB=
stop() { # PID: TERM, then KILL after 5 s
    local p=$1
    kill "$p" 2>/dev/null || return 0
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$p" 2>/dev/null
    wait "$p" 2>/dev/null
}
cleanup() {
    [[ -n $AB ]] && stop "$AB" && AB=
    [[ -n $SRV ]] && stop "$SRV" && SRV=
}
trap cleanup EXIT
trap 'exit 130' INT TERM

cmd=${CMD_TEMPLATE//\{port\}/"$AB_PORT"}
echo "server $AGENT: $cmd" | tee "$OUT/server.txt" >&2
# exec: $SRV is the server itself. The template is a command line (word split, no globbing).
# shellcheck disable=SC2086
(set -f; cd "$OUT" && exec $cmd) </dev/null >/dev/null 2>"$OUT/server.log" &
SRV=$!
for _ in $(seq 150); do
    listening "$AB_PORT" && break
    kill -0 "$SRV" 2>/dev/null || break
    sleep 0.1
done
if ! listening "$AB_PORT" || ! kill -0 "$SRV" 2>/dev/null; then
    echo "server did not listen on 127.0.0.1:$AB_PORT:" >&2
    tail -20 "$OUT/server.log" >&2
    exit 1
fi

echo "running wstest -m fuzzingclient against ws://127.0.0.1:$AB_PORT (excluded: ${AB_EXCLUDE:-none}), ${AB_TIMEOUT}s limit ..." >&2
t0=$SECONDS
(cd "$OUT" && LD_LIBRARY_PATH=$AB_HOME/root/usr/lib/x86_64-linux-gnu exec timeout -k 10 "$AB_TIMEOUT" \
    "$PY2" -W ignore "$AB_HOME/wstest.py" "$SITE" -m fuzzingclient -s fuzzingclient.json) \
    >"$OUT/fuzzingclient.log" 2>&1 &
AB=$!
wait "$AB"
rc=$?
AB=
echo "wstest exited $rc after $((SECONDS - t0)) s" >&2
[[ $rc == 124 || $rc == 137 ]] && echo "wstest ran past ${AB_TIMEOUT}s and was stopped (no report is written then)" >&2
if kill -0 "$SRV" 2>/dev/null; then
    stop "$SRV"
else
    wait "$SRV"
    echo "server exited on its own during the run (status $?): see $OUT/server.log" | tee -a "$OUT/server.txt" >&2
fi
SRV=
grep -m3 "failed (" "$OUT/fuzzingclient.log" >&2

planned=$(sed -n 's/^Ok, will run \([0-9]*\) test cases.*/\1/p' "$OUT/fuzzingclient.log" | head -1)
python3 - "$OUT/reports/servers/index.json" "$AGENT" "$OUT/summary.md" "${planned:-?}" <<'EOF'
import json, sys, collections
path, agent, summary, planned = sys.argv[1:5]
try:
    data = json.load(open(path))
except Exception as e:
    print(f"no report: {e}")
    sys.exit(1)
cases = data.get(agent, {})
if not cases:
    print(f"no cases for agent {agent} in {path}")
    sys.exit(1)
def key(c): return [int(x) for x in c.split('.')]
order = ["OK", "NON-STRICT", "INFORMATIONAL", "UNIMPLEMENTED", "WRONG CODE", "UNCLEAN", "FAILED BY CLIENT", "FAILED"]
beh = collections.Counter(v["behavior"] for v in cases.values())
close = collections.Counter(v["behaviorClose"] for v in cases.values())
lines = [f"# Autobahn server cases: {agent} ({len(cases)} of {planned} planned cases)", "",
         "| behavior | cases | close behavior | cases |", "|---|---|---|---|"]
b = sorted(beh, key=lambda k: order.index(k) if k in order else 99)
c = sorted(close, key=lambda k: order.index(k) if k in order else 99)
for i in range(max(len(b), len(c))):
    l = f"| {b[i]} | {beh[b[i]]} |" if i < len(b) else "| | |"
    r = f" {c[i]} | {close[c[i]]} |" if i < len(c) else " | |"
    lines.append(l + r)
lines.append("")
bad = collections.defaultdict(list)
for cid in sorted(cases, key=key):
    v = cases[cid]
    if v["behavior"] != "OK" or v["behaviorClose"] != "OK":
        bad[f'{v["behavior"]}/{v["behaviorClose"]}'].append(cid)
for k, ids in sorted(bad.items()):
    groups = collections.Counter(".".join(i.split(".")[:2]) if i.count(".") >= 2 else i.split(".")[0] for i in ids)
    lines.append(f"- {k} ({len(ids)}): " + ", ".join(ids if len(ids) <= 12 else [f"{g}.* x{n}" for g, n in groups.items()]))
text = "\n".join(lines) + "\n"
open(summary, "w").write(text)
print(text)
EOF
src=$?
echo "report: $OUT/reports/servers/index.html, summary: $OUT/summary.md" >&2
exit $src
