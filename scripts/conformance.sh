#!/usr/bin/env bash
# RFC 6455 conformance: the Autobahn TestSuite (0.8.2, cases 1-11; 12-13 are
# permessage-deflate, which wspipe does not offer) against both sides of wspipe:
#   client cases through `wspipe connect --echo` (stdin at /dev/null),
#   server cases against `wspipe listen --echo`.
# Fails (exit 1) on any FAILED, UNCLEAN or WRONG CODE case. When the one-time set-up
# (a private Python 2.7 from Debian 11 packages and autobahntestsuite from PyPI, see
# scripts/autobahn/client.sh) cannot be had, prints `SKIP autobahn: <why>` and exits 0.
#
# usage: scripts/conformance.sh            (builds the release binary first)
#        WSPIPE=path scripts/conformance.sh
#        AB_CASES='5.* 9.1.*' scripts/conformance.sh   (a subset)
set -uo pipefail
cd "$(dirname "$0")/.."
export LC_ALL=C
AB_HOME=${AB_HOME:-/tmp/autobahn-py27}
export AB_HOME

if [[ -z ${WSPIPE:-} ]]; then
    cargo build --release --locked --quiet || { echo "conformance: cargo build --release failed" >&2; exit 1; }
    WSPIPE=$PWD/target/release/wspipe
fi
export WSPIPE

# What the runners use besides the registries (present on Debian machines).
for tool in python3 apt-get dpkg ss timeout; do
    command -v "$tool" >/dev/null 2>&1 || { echo "SKIP autobahn: $tool not found"; exit 0; }
done

setup_log=$(mktemp)
if ! AB_SETUP_ONLY=1 bash scripts/autobahn/client.sh wspipe >"$setup_log" 2>&1; then
    echo "SKIP autobahn: its set-up failed: $(grep -v '^\s*$' "$setup_log" | tail -1)"
    exit 0
fi

out=$(mktemp -d)
status=0
for side in client server; do
    dir=$out/$side
    AB_OUT=$dir timeout 600 bash "scripts/autobahn/$side.sh" wspipe >"$out/$side.log" 2>&1
    report=$dir/reports/${side}s/index.json
    if [[ ! -f $report ]]; then
        echo "autobahn $side side: no report" >&2
        tail -20 "$out/$side.log" >&2
        status=1
        continue
    fi
    python3 - "$report" "$side" <<'PY' || status=1
import collections, json, sys
path, side = sys.argv[1:3]
cases = next(iter(json.load(open(path)).values()))
behavior = collections.Counter(c["behavior"] for c in cases.values())
close = collections.Counter(c["behaviorClose"] for c in cases.values())
print(f"autobahn {side} side: {len(cases)} cases; "
      + ", ".join(f"{k} {v}" for k, v in sorted(behavior.items()))
      + "; close: " + ", ".join(f"{k} {v}" for k, v in sorted(close.items())))
bad = sorted((cid for cid, c in cases.items()
              if c["behavior"] in ("FAILED", "FAILED BY CLIENT")
              or c["behaviorClose"] in ("FAILED", "UNCLEAN", "WRONG CODE")),
             key=lambda cid: [int(x) for x in cid.split(".")])
if bad:
    print(f"autobahn {side} side: FAILED, UNCLEAN or WRONG CODE: " + ", ".join(bad))
    sys.exit(1)
PY
done
echo "reports: $out/{client,server}/reports" >&2
exit $status
