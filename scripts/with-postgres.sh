#!/usr/bin/env bash
# Runs a command with a throwaway PostgreSQL cluster (IVR_TEST_PG_URL names it), so the store
# tests run on PostgreSQL as well as SQLite. Uses IVR_TEST_PG_URL as it is when already set.
# PostgreSQL refuses to run as root: as root, the cluster runs as the `postgres` user.
# The cluster lives in a temporary folder, listens on a Unix socket only, and is removed after.
set -euo pipefail
if [ -n "${IVR_TEST_PG_URL:-}" ]; then exec "$@"; fi

PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
if [ -z "$PG_BIN" ] || [ ! -x "$PG_BIN/initdb" ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql
  PG_BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
fi

DIR=$(mktemp -d /tmp/ivr-pg.XXXXXX)
RUN=()
if [ "$(id -u)" -eq 0 ]; then
  chown postgres "$DIR"
  RUN=(runuser -u postgres --)
  PGUSER=postgres
else
  PGUSER=$(id -un)
fi
cleanup() {
  "${RUN[@]}" "$PG_BIN/pg_ctl" -D "$DIR/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$DIR"
}
trap cleanup EXIT
"${RUN[@]}" "$PG_BIN/initdb" -D "$DIR/data" -A trust -U "$PGUSER" --no-sync >"$DIR/initdb.log" 2>&1 \
  || { cat "$DIR/initdb.log"; exit 1; }
"${RUN[@]}" "$PG_BIN/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w \
  -o "-c listen_addresses='' -c unix_socket_directories=$DIR -c fsync=off -c max_connections=200" start >/dev/null \
  || { cat "$DIR/server.log"; exit 1; }
export IVR_TEST_PG_URL="postgresql+psycopg://$PGUSER@/postgres?host=$DIR"
echo "PostgreSQL for the tests: $IVR_TEST_PG_URL" >&2
"$@"
