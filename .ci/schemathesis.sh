#!/usr/bin/env bash
# Schemathesis against a live natter: every operation of /api/v1/openapi.json (the WebSocket
# upgrade excepted) is called with generated data, and fails the run on a 5xx, an undocumented
# status, or a body that breaks its schema.
#
#   bash .ci/schemathesis.sh            # from anywhere; builds target/debug/natter first
#   ST_MAX_EXAMPLES=100 ST_SEED=7 ST_REPORT_DIR=/tmp/st bash .ci/schemathesis.sh   # HAR report
#
# Needs Python 3 with pip (schemathesis 4 comes from PyPI when `st` is missing) and curl.
set -euo pipefail
cd "$(dirname "$0")/.."

MAX_EXAMPLES="${ST_MAX_EXAMPLES:-30}"
# One worker: with several, schemathesis' threads call Python's `ast.parse` at once (through
# Hypothesis' lambda descriptions), which CPython 3.11 does not allow ("SystemError: AST
# constructor recursion depth mismatch"), failing the run at random.
WORKERS="${ST_WORKERS:-1}"

# `st` from PATH, else the module of the Python at hand (pip may install the script off PATH).
st_cmd=(st)
st_version() { "${st_cmd[@]}" --version 2>/dev/null | grep -oE '[0-9]+(\.[0-9]+)+' | tail -n1; }
if [[ "$(st_version)" != 4.* ]]; then
  st_cmd=(python3 -m schemathesis.cli)
  if [[ "$(st_version)" != 4.* ]]; then
    echo "schemathesis: installing from PyPI"
    python3 -m pip install --quiet --disable-pip-version-check 'schemathesis>=4,<5'
  fi
fi
echo "schemathesis: $("${st_cmd[@]}" --version)"

echo "schemathesis: cargo build -p natter"
cargo build --quiet -p natter

work="$(mktemp -d)"
server_pid=""
cleanup() {
  if [[ -n "$server_pid" ]]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

target/debug/natter serve --listen 127.0.0.1:0 --rate-limit off --data-dir "$work/data" \
  >"$work/stdout" 2>"$work/stderr" &
server_pid=$!

url=""
for _ in $(seq 1 120); do
  url="$(sed -n 's/^natter listening on //p' "$work/stdout" | head -n1)"
  [[ -n "$url" ]] && break
  if ! kill -0 "$server_pid" 2>/dev/null; then
    echo "schemathesis: the server exited" >&2
    cat "$work/stderr" >&2
    exit 1
  fi
  sleep 0.25
done
if [[ -z "$url" ]]; then
  echo "schemathesis: the server did not print its address" >&2
  exit 1
fi
echo "schemathesis: server at $url"

# A user, and a fresh session (bearer token) for each pass.
password="schemathesis-password"
curl -fsS -X POST "$url/api/v1/users" -H 'Content-Type: application/json' \
  -d "{\"username\": \"schemathesis\", \"password\": \"$password\"}" >/dev/null
login() {
  curl -fsS -X POST "$url/api/v1/sessions" -H 'Content-Type: application/json' \
    -d "{\"username\": \"schemathesis\", \"password\": \"$password\", \"device_name\": \"schemathesis\"}" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["token"])'
}

# Stateful testing follows the document's links (create a conversation, send into it, read,
# mark, edit and delete the message, ...): longer chains, and more of them, than the defaults.
cat >"$work/schemathesis.toml" <<EOF
[phases.stateful]
max-steps = 10

[phases.stateful.generation]
max-examples = ${ST_STATEFUL_EXAMPLES:-100}
EOF

status=0
run_st() { # extra st arguments
  local token
  token="$(login)"
  # From the scratch directory, which takes schemathesis' own cache.
  (cd "$work" && "${st_cmd[@]}" --config-file "$work/schemathesis.toml" run "$url/api/v1/openapi.json" \
    --url "$url" \
    --header "Authorization: Bearer $token" \
    --checks not_a_server_error,status_code_conformance,response_schema_conformance,content_type_conformance \
    --max-examples "$MAX_EXAMPLES" \
    --workers "$WORKERS" \
    --request-timeout 40 \
    --seed "${ST_SEED:-1}" \
    ${ST_REPORT_DIR:+--report har --report-dir "$ST_REPORT_DIR"} \
    "$@") || status=1
}

# Every operation but the WebSocket upgrade, session revocation and the admin's account
# changes: schemathesis reuses the ids it has seen, so it would revoke its own session (or, as
# the server's admin, set its own password, which signs it out everywhere) and leave the rest
# to answer 401.
echo "schemathesis: every operation"
run_st --exclude-path /api/v1/ws --exclude-operation-id revokeSession \
  --exclude-operation-id adminUpdateUser
# Session revocation, with a session of its own, and the list it takes ids from.
echo "schemathesis: revokeSession"
run_st --include-operation-id revokeSession --include-operation-id listSessions
# The admin's account changes last (a password it sets on its own account leaves no login to
# the passes after it), with a session of their own, and the list they take ids from.
echo "schemathesis: adminUpdateUser"
run_st --include-operation-id adminUpdateUser --include-operation-id adminListUsers

if [[ -s "$work/stderr" ]] && grep -qE 'ERROR|panicked' "$work/stderr"; then
  echo "schemathesis: the server logged errors:" >&2
  grep -E 'ERROR|panicked' "$work/stderr" | tail -n 50 >&2
  status=1
fi
if [[ "$status" -ne 0 ]]; then
  echo "schemathesis: FAILED" >&2
else
  echo "schemathesis: passed"
fi
exit "$status"
