# Sourced by every bench script: build, find the binaries, make crun usable.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
# COUNT=1: instruction counts under callgrind (few samples suffice).
if [ -n "${COUNT:-}" ]; then N=${N:-5}; else N=${N:-50}; fi
TARGET=${CARGO_TARGET_DIR:-$PWD/target}
cargo build --release --bins >&2
# .cargo/config.toml builds for the host's triple by name (static binaries).
REL="$TARGET/$(rustc -vV | sed -n 's/^host: //p')/release"
BENCH="$REL/runoci-bench"
# RUNOCI=/usr/bin/runc proves the bench before runoci works.
RUNOCI=${RUNOCI:-$REL/runoci}

# crun refuses a hybrid layout whose cgroup2 holds hugetlb; giving hugetlb a
# v1 hierarchy of its own fixes that. Only when not mounted already.
if [ -f /sys/fs/cgroup/unified/cgroup.controllers ] &&
    grep -qw hugetlb /sys/fs/cgroup/unified/cgroup.controllers &&
    ! mountpoint -q /sys/fs/cgroup/hugetlb; then
    mkdir -p /sys/fs/cgroup/hugetlb
    mount -t cgroup -o hugetlb cgroup /sys/fs/cgroup/hugetlb ||
        echo "note: could not mount the hugetlb v1 hierarchy; crun may be left out" >&2
fi

RTS=(--rt "runoci=$RUNOCI" --rt runc=/usr/bin/runc)
if [ -x /usr/bin/crun ]; then RTS+=(--rt crun=/usr/bin/crun); fi
# BASE=/path/to/another/runoci: that build too, as "runoci-base".
if [ -n "${BASE:-}" ]; then RTS+=(--rt "runoci-base=$BASE"); fi
