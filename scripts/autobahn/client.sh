#!/usr/bin/env bash
# Autobahn TestSuite client conformance (fuzzingserver mode) for a command-line client.
# Loopback only: the fuzzingserver is forced onto 127.0.0.1 (its web UI is disabled).
#
# usage (from the project's root):
#        scripts/autobahn/client.sh wspipe                 (target/release/wspipe, or WSPIPE=path)
#        scripts/autobahn/client.sh websocat               (the peer, if installed)
#        AB_CMD='some-client --echo {url}' scripts/autobahn/client.sh NAME
#        AB_CASES='5.* 6.4.*' scripts/autobahn/client.sh wspipe   (a subset while fixing)
# The per-case reports (what was sent, expected, received, with a wire log) are in
# $AB_OUT/reports/clients/: index.json and one <agent>_case_X_Y_Z.json / .html per case.
# The whole run takes well under a few minutes; the one-time set-up about half a minute.
#
# The client must echo every message back with its type (text/binary) and follow the
# close handshake. For each case it is started once on
#   ws://127.0.0.1:$AB_PORT/runCase?case=N&agent=NAME
# then /updateReports is called and the JSON report is summarised
# (OK / NON-STRICT / INFORMATIONAL / FAILED / UNIMPLEMENTED ...).
#
# Why not `pip install autobahntestsuite` on Python 3: the PyPI release 25.10.1 is the
# Python 2 code base of 0.8.2 republished as a py3 wheel with no dependencies; it fails at
# import (`from _version import ...`, implicit relative imports) and beyond (str/bytes
# payloads, `raise E, msg`). So this script builds a private Python 2.7 once, from
# registries only and without touching the system:
#   CPython 2.7.18: Debian 11 (bullseye) .debs via `apt-get download` with a private
#                   package list (the mirror this machine's apt already uses), unpacked
#                   with `dpkg -x` into $AB_HOME (nothing installed)
#   pip 20.3.4 / setuptools 44.1.1 / wheel 0.37.1: PyPI wheels for Python 2.7
#   autobahntestsuite 0.8.2 (+ autobahn 0.10.9, Twisted 20.3.0, ...): PyPI, pip --target
#
# env: AB_HOME (/tmp/autobahn-py27), AB_PORT (9001), AB_CASES ('*'), AB_EXCLUDE ('12.* 13.*':
#      permessage-deflate), AB_CASE_TIMEOUT (30 s per case), WSPIPE (path of the wspipe binary),
#      AB_OUT (where reports go; a fresh temporary folder by default), AB_SETUP_ONLY=1 (set up, run nothing)
set -uo pipefail
export LC_ALL=C

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
AGENT=${1:-websocat}
AB_HOME=${AB_HOME:-/tmp/autobahn-py27}
AB_PORT=${AB_PORT:-9001}
AB_CASES=${AB_CASES:-*}
AB_EXCLUDE=${AB_EXCLUDE:-12.* 13.*}
AB_CASE_TIMEOUT=${AB_CASE_TIMEOUT:-30}
WSPIPE=${WSPIPE:-$( [[ -x target/release/wspipe ]] && echo "$PWD/target/release/wspipe" || command -v wspipe || echo wspipe)}

# ------------------------------------------------------------------ client command
if [[ ${AB_SETUP_ONLY:-} == 1 ]]; then
    CMD_TEMPLATE= # only the one-time set-up below
elif [[ -n ${AB_CMD:-} ]]; then
    CMD_TEMPLATE=$AB_CMD
else
    case $AGENT in
        websocat)
            command -v websocat >/dev/null || { echo "SKIP websocat: not installed (cargo install websocat --locked)"; exit 0; }
            # mirror: sends every received message back. The prefixes carry the message type
            # through the mirror (received text gets "{T}", binary "{B}"; on the way out the
            # prefix is stripped and picks the type). Not one-letter prefixes: websocat strips
            # the text prefix and then the binary one too, so echoed text starting with "B"
            # (cases 9.1.x/9.5.x) would go out as binary. -B: largest case message is 16 MiB.
            CMD_TEMPLATE='websocat -q -B 20000000 --text-prefix={T} --binary-prefix={B} {url} mirror:' ;;
        wspipe)
            [[ -x $WSPIPE ]] || { echo "SKIP wspipe: not built ($WSPIPE missing)"; exit 0; }
            CMD_TEMPLATE="$WSPIPE connect --echo {url}" ;;
        *)
            echo "unknown client '$AGENT': set AB_CMD='command ... {url}'" >&2
            exit 2 ;;
    esac
fi

# ------------------------------------------------------------------ one-time setup
python3 -c 'import websockets' 2>/dev/null || python3 -m pip install -q websockets >/dev/null 2>&1 ||
    { echo "python3 websockets is needed for the control connection: pip install websockets" >&2; exit 1; }
PY2=$AB_HOME/root/usr/bin/python2.7
SITE=$AB_HOME/site
py2() { LD_LIBRARY_PATH=$AB_HOME/root/usr/lib/x86_64-linux-gnu "$PY2" -W ignore "$@"; }

setup() {
    echo "setting up Python 2.7 + autobahntestsuite 0.8.2 in $AB_HOME (once) ..." >&2
    set -e
    rm -rf "$AB_HOME"
    mkdir -p "$AB_HOME"/{apt/lists/partial,apt/archives/partial,debs,root,site,wheels}
    # the Debian mirror this machine's apt is configured with, asked for bullseye
    local mirror
    mirror=$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/*.sources 2>/dev/null | grep -m1 debian)
    [[ -n $mirror ]] || mirror=$(awk '/^deb /{print $2; exit}' /etc/apt/sources.list 2>/dev/null)
    [[ -n $mirror ]] || { echo "no Debian mirror configured for apt" >&2; return 1; }
    echo "deb $mirror bullseye main" >"$AB_HOME/apt/sources.list"
    local o=(-oDir::Etc::SourceList="$AB_HOME/apt/sources.list" -oDir::Etc::SourceParts=/dev/null
        -oDir::State::Lists="$AB_HOME/apt/lists" -oDir::Cache::Archives="$AB_HOME/apt/archives"
        -oAPT::Architecture=amd64 -oAPT::Sandbox::User=root -qq)
    apt-get "${o[@]}" update
    (cd "$AB_HOME/debs" && apt-get "${o[@]}" download python2.7 python2.7-minimal libpython2.7 \
        libpython2.7-minimal libpython2.7-stdlib libpython2.7-dev libssl1.1 libffi7)
    for f in "$AB_HOME"/debs/*.deb; do dpkg -x "$f" "$AB_HOME/root"; done
    pip download -q --no-deps --only-binary=:all: --python-version 2.7 -d "$AB_HOME/wheels" \
        pip==20.3.4 setuptools==44.1.1 wheel==0.37.1
    py2 "$AB_HOME"/wheels/pip-20.3.4-py2.py3-none-any.whl/pip install -q --no-cache-dir \
        --disable-pip-version-check --target "$SITE" "$AB_HOME"/wheels/*.whl
    # wsaccel is compiled: point gcc at the unpacked headers
    CFLAGS="-I$AB_HOME/root/usr/include/python2.7 -I$AB_HOME/root/usr/include" \
        PYTHONPATH=$SITE py2 -m pip install -q --no-cache-dir --disable-pip-version-check \
        --target "$SITE" autobahntestsuite==0.8.2
    cat >"$AB_HOME/wstest.py" <<'EOF'
# wstest with every listening socket forced onto 127.0.0.1
import site, sys
site.addsitedir(sys.argv.pop(1))
from twisted.internet import reactor
_listen = reactor.listenTCP
def listenTCP(port, factory, backlog=50, interface=''):
    return _listen(port, factory, backlog=backlog, interface='127.0.0.1')
reactor.listenTCP = listenTCP
sys.argv[0] = 'wstest'
from autobahntestsuite.wstest import run
run()
EOF
    set +e
    touch "$AB_HOME/.ok"
}
if [[ ! -f $AB_HOME/.ok ]]; then
    t0=$SECONDS
    (setup) || { echo "autobahn setup failed" >&2; exit 1; }
    echo "setup took $((SECONDS - t0)) s" >&2
fi
[[ ${AB_SETUP_ONLY:-} == 1 ]] && exit 0

# ------------------------------------------------------------------ run
STAMP=$(date +%Y%m%d-%H%M%S)
OUT=${AB_OUT:-$(mktemp -d)/autobahn-$AGENT-$STAMP}
mkdir -p "$OUT"
set -f # the case patterns are not file globs
# shellcheck disable=SC2086
cases_json=$(printf '"%s",' $AB_CASES) exclude_json=$(printf '"%s",' $AB_EXCLUDE)
set +f
[[ -z ${AB_EXCLUDE// /} ]] && exclude_json=
cat >"$OUT/fuzzingserver.json" <<EOF
{
  "url": "ws://127.0.0.1:$AB_PORT",
  "outdir": "$OUT/reports/clients",
  "cases": [${cases_json%,}],
  "exclude-cases": [${exclude_json%,}],
  "exclude-agent-cases": {}
}
EOF

SRV=
cleanup() { if [[ -n $SRV ]]; then kill "$SRV" 2>/dev/null; wait "$SRV" 2>/dev/null; SRV=; fi; }
trap cleanup EXIT
trap 'exit 130' INT TERM

# exec: $SRV is the fuzzingserver itself
(cd "$OUT" && LD_LIBRARY_PATH=$AB_HOME/root/usr/lib/x86_64-linux-gnu exec "$PY2" -W ignore \
    "$AB_HOME/wstest.py" "$SITE" -m fuzzingserver -s fuzzingserver.json -u 0) >"$OUT/fuzzingserver.log" 2>&1 &
SRV=$!

# control connection (Python websockets): print every message, return when the server closes
cat >"$OUT/control.py" <<'EOF'
import asyncio, sys
from websockets.asyncio.client import connect
async def main(url):
    async with connect(url, max_size=None, open_timeout=5) as ws:
        async for m in ws:
            print(m, flush=True)
asyncio.run(main(sys.argv[1]))
EOF
control() { timeout "$1" python3 "$OUT/control.py" "$2"; }

for _ in $(seq 100); do
    grep -q "Ok, will run" "$OUT/fuzzingserver.log" 2>/dev/null && break
    kill -0 "$SRV" 2>/dev/null || break
    sleep 0.2
done
COUNT=$(control 20 "ws://127.0.0.1:$AB_PORT/getCaseCount" 2>/dev/null | head -1)
if ! [[ $COUNT =~ ^[0-9]+$ ]]; then
    echo "fuzzingserver did not answer on 127.0.0.1:$AB_PORT:" >&2
    tail -20 "$OUT/fuzzingserver.log" >&2
    exit 1
fi
echo "client $AGENT: $CMD_TEMPLATE" | tee "$OUT/client.txt" >&2
echo "running $COUNT cases (excluded: ${AB_EXCLUDE:-none}), ${AB_CASE_TIMEOUT}s limit each ..." >&2
timeouts=0
t0=$SECONDS
for ((i = 1; i <= COUNT; i++)); do
    url="ws://127.0.0.1:$AB_PORT/runCase?case=$i&agent=$AGENT"
    cmd=${CMD_TEMPLATE//\{url\}/"$url"} # quoted: bash 5.2 would expand & in the replacement
    # shellcheck disable=SC2086  # the template is a command line
    timeout -k 2 "$AB_CASE_TIMEOUT" $cmd </dev/null >/dev/null 2>>"$OUT/client-stderr.log"
    rc=$?
    [[ $rc == 124 || $rc == 137 ]] && timeouts=$((timeouts + 1)) && echo "case $i: client timed out" >>"$OUT/client-stderr.log"
    ((i % 50 == 0)) && echo "  $i/$COUNT ($((SECONDS - t0)) s)" >&2
done
echo "cases done in $((SECONDS - t0)) s; client timeouts: $timeouts" >&2
control 120 "ws://127.0.0.1:$AB_PORT/updateReports?agent=$AGENT" >/dev/null 2>&1
cleanup

python3 - "$OUT/reports/clients/index.json" "$AGENT" "$OUT/summary.md" <<'EOF'
import json, sys, collections
path, agent, summary = sys.argv[1:4]
try:
    data = json.load(open(path))
except Exception as e:
    print(f"no report: {e}")
    sys.exit(1)
cases = data.get(agent, {})
def key(c): return [int(x) for x in c.split('.')]
order = ["OK", "NON-STRICT", "INFORMATIONAL", "UNIMPLEMENTED", "WRONG CODE", "UNCLEAN", "FAILED BY CLIENT", "FAILED"]
beh = collections.Counter(v["behavior"] for v in cases.values())
close = collections.Counter(v["behaviorClose"] for v in cases.values())
lines = [f"# Autobahn client cases: {agent} ({len(cases)} cases)", "",
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
echo "report: $OUT/reports/clients/index.html, summary: $OUT/summary.md" >&2
