#!/usr/bin/env bash
# `podman run --rm --net none IMAGE true` wall time with runoci, runc and
# crun as podman's runtime (`--runtime PATH --cgroup-manager cgroupfs`),
# interleaved sample by sample; median, p90, mean, min per runtime and the
# ratios of the medians runoci/runc, runoci/crun. The image is the tests'
# busybox rootfs, imported for the bench and removed after it.
# N=20 by default; RUNOCI=/path/to/binary benches another binary as "runoci".
N=${N:-20}
. "$(dirname "$0")/common.sh"
exec "$BENCH" podman -n "$N" "${RTS[@]}"
