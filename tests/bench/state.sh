#!/usr/bin/env bash
# `RT state ID` latency of a created container, runoci vs runc (and crun).
. "$(dirname "$0")/common.sh"
exec "$BENCH" state -n "$N" ${COUNT:+--count} "${RTS[@]}"
