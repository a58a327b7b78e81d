#!/usr/bin/env bash
# Starts the machine's PostgreSQL and Redis when they are not running, and waits until both answer.
# Used by CI and by developers on this machine (DEVELOPERS.md); servers elsewhere are yours to run.
set -euo pipefail
PGHOST=${PGHOST:-127.0.0.1} PGPORT=${PGPORT:-5432}

pg_up() { pg_isready -h "$PGHOST" -p "$PGPORT" -q; }
redis_up() { [ "$(redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null)" = PONG ]; }

if ! pg_up; then
  echo "PostgreSQL is down; starting it"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
fi
if ! redis_up; then
  echo "Redis is down; starting it"
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
fi
for _ in $(seq 1 60); do
  if pg_up && redis_up; then
    echo "PostgreSQL at $PGHOST:$PGPORT and Redis at 127.0.0.1:6379 are up"
    exit 0
  fi
  sleep 1
done
echo "PostgreSQL or Redis did not come up within 60 s" >&2
exit 1
