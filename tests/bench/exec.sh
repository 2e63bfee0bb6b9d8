#!/usr/bin/env bash
# `RT exec ID true` latency into a running container, runoci vs runc vs crun.
# COUNT=1: instructions under callgrind instead of wall time (N=5 default).
. "$(dirname "$0")/common.sh"
exec "$BENCH" exec -n "$N" ${COUNT:+--count} "${RTS[@]}"
