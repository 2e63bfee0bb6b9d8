#!/usr/bin/env bash
# Container start-up latency: `RT run` of /bin/true, runoci vs runc vs crun.
# N=50 by default; RUNOCI=/path/to/binary to bench another binary as "runoci".
. "$(dirname "$0")/common.sh"
exec "$BENCH" start -n "$N" ${COUNT:+--count} "${RTS[@]}"
