#!/usr/bin/env bash
# 100 detached starts, 8 at a time: runoci `start` (each container with its
# monitor) vs runc's and crun's `create` + `start` (no monitor); N batches
# per runtime (default 3), interleaved. Also prints the mean PSS of the
# 100 runoci monitors.
N=${N:-3}
. "$(dirname "$0")/common.sh"
exec "$BENCH" density -n "$N" "${RTS[@]}"
