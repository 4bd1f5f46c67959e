#!/usr/bin/env bash
# The newcomer's path, as CI runs it: clone the commit under test into an
# empty folder, run `make demo` there (its own .venv, SQLite, in-process
# tasks), wait for /healthz and the login page, log in as `county` and load
# the home page; then stop the server and remove the clone. A failure prints
# the tail of the demo's output.
#
# DEMO_VENV=path links an existing virtualenv into the clone instead of
# installing one (the test suite's quicker run of the same path).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
port=${DEMO_PORT:-8765}
limit=${DEMO_WAIT_SECONDS:-300}
base="http://127.0.0.1:$port"
work=$(mktemp -d)
log="$work/demo.log"
pid=""

# Stop the demo: make, runserver and the reloader's child share one process
# group (setsid). TERM first; a watchdog sends KILL to the group if make has
# not ended ten seconds later, so a server that ignores TERM cannot hold the
# check up (make waits for its children before it exits).
stop_demo() {
  [ -n "$pid" ] || return 0
  kill -TERM -- "-$pid" 2>/dev/null || true
  ( sleep 10 </dev/null >/dev/null 2>&1; kill -KILL -- "-$pid" 2>/dev/null && echo "demo check: killed the demo, TERM did not stop it" >&2 ) &
  local watchdog=$!
  wait "$pid" 2>/dev/null || true
  kill "$watchdog" 2>/dev/null || true
  wait "$watchdog" 2>/dev/null || true
  kill -KILL -- "-$pid" 2>/dev/null || true
  pid=""
}
cleanup() {
  stop_demo
  rm -rf "$work"
}
fail() {
  echo "demo check: $*" >&2
  echo "--- the last lines of make demo's output:" >&2
  tail -n 40 "$log" >&2 || true
  exit 1
}
trap cleanup EXIT

git clone -q "$top" "$work/clone"
[ -d "$work/clone/var" ] && fail "the clone has a var/ folder: it must start without one"
if [ -n "${DEMO_VENV:-}" ]; then
  ln -s "$DEMO_VENV" "$work/clone/.venv"
fi
echo "demo check: make demo in a fresh clone of $(git -C "$work/clone" rev-parse --short HEAD)"
started=$(date +%s)
(
  cd "$work/clone"
  exec setsid env -u DATABASE_URL -u CELERY_BROKER_URL -u CELERY_RESULT_BACKEND -u MEDIA_ROOT \
    -u DJANGO_ENV make demo DEMO_PORT="$port"
) >"$log" 2>&1 &
pid=$!

until curl -sf -o /dev/null "$base/healthz"; do
  kill -0 "$pid" 2>/dev/null || fail "make demo stopped before serving"
  [ $(($(date +%s) - started)) -lt "$limit" ] || fail "no answer from $base/healthz within $limit s"
  sleep 2
done
echo "demo check: /healthz answers 200 after $(($(date +%s) - started)) s"

jar="$work/cookies"
login=$(curl -sf -c "$jar" "$base/login/") || fail "the login page does not load"
grep -q 'name="csrfmiddlewaretoken"' <<<"$login" || fail "the login page has no login form"
token=$(awk '$6 == "csrftoken" {print $7}' "$jar")
status=$(curl -s -o "$work/after-login.html" -w '%{http_code}' -b "$jar" -c "$jar" \
  -H "Referer: $base/login/" \
  --data-urlencode "csrfmiddlewaretoken=$token" --data-urlencode "username=county" \
  --data-urlencode "password=zhenxingdai-demo" "$base/login/")
[ "$status" = 302 ] || fail "logging in as county answered $status, not a redirect"
home=$(curl -sf -b "$jar" "$base/") || fail "the county's home page does not load"
grep -q 'data-testid="work-queue"' <<<"$home" || fail "the county's home page shows no work queue"
grep -q '振兴贷' <<<"$home" || fail "the county's home page does not show the programme"
echo "demo check: logged in as county, home page served ($(($(date +%s) - started)) s in all)"
stop_demo
echo "demo check: the demo stopped"
