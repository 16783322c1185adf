#!/usr/bin/env bash
# The production stack in the foreground (`make serve`): migrations, then gunicorn (deploy/gunicorn.conf.py),
# one RQ worker and the cron, on DATABASE_URL and REDIS_URL. For real servers use deploy/systemd/ instead.
#
# SIGTERM or Ctrl-C stops all three gracefully: gunicorn stops accepting and finishes the requests in flight
# (graceful_timeout), the worker finishes its job, the cron ends its loop; the script exits 0 once all three
# have. If one of them dies on its own, the other two are stopped and the script exits with its status, so a
# supervisor sees the stack fail as one.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${LIANDONG_BIN:-.venv/bin}
: "${DATABASE_URL:?make serve needs DATABASE_URL (PostgreSQL) and REDIS_URL}"
: "${REDIS_URL:?make serve needs DATABASE_URL (PostgreSQL) and REDIS_URL}"
export FLASK_APP=app:create_app

"$bin/flask" db upgrade

pids=()
requested=0
stop() {
  trap - TERM INT
  kill -TERM "${pids[@]}" 2>/dev/null || true
}
trap 'requested=1; stop' TERM INT

"$bin/gunicorn" --config deploy/gunicorn.conf.py & pids+=($!)
"$bin/flask" worker --queues "${LIANDONG_SERVE_QUEUES:-engine,notify,default}" & pids+=($!)
"$bin/flask" cron & pids+=($!)

status=0
wait -n "${pids[@]}" || status=$?
if [ "$requested" = 1 ]; then
  status=0  # the signal we were sent interrupted `wait`; what counts now is how each process ends
else
  echo "serve: a process of the stack ended (status $status); stopping the others" >&2
  stop
fi
# One SIGTERM per process: a second one could reach a process already past its own stop, while Python is
# finalizing and has put back the default handler, and end it with status 143 (seen: the cron, after "cron: stopped").
for pid in "${pids[@]}"; do
  ended=0
  wait "$pid" 2>/dev/null || ended=$?
  if [ "$requested" = 1 ] && [ "$ended" != 0 ] && [ "$ended" != 127 ]; then
    echo "serve: process $pid ended with status $ended while stopping" >&2
    status=$ended
  fi
done
exit "$status"
