#!/usr/bin/env bash
# Memory of one container monitor: runoci-monitor (a `runoci start`ed busybox
# `sleep`) next to conmon (a `podman run -d` of the same image on runoci),
# measured in the same run, after both have been idle for 2 s.
# Prints VmRSS, RssAnon and RssFile of each and the VmRSS ratio.
. "$(dirname "$0")/common.sh"
work=$(mktemp -d)
id="rss-$$"
cleanup() {
    "$RUNOCI" --root "$work/root" kill "$id" KILL >/dev/null 2>&1 || true
    sleep 0.3
    "$RUNOCI" --root "$work/root" destroy --force "$id" >/dev/null 2>&1 || true
    podman rm -f -t 0 "$id" >/dev/null 2>&1 || true
    podman rmi -f "localhost/$id" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$work/bundle/rootfs/bin" "$work/bundle/rootfs/"{proc,sys,dev,tmp,etc}
cp /bin/busybox "$work/bundle/rootfs/bin/"
for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -s busybox "$work/bundle/rootfs/bin/$a"; done
cat > "$work/bundle/config.json" <<'JSON'
{"ociVersion":"1.0.2","process":{"user":{"uid":0,"gid":0},"args":["sleep","600"],"env":["PATH=/bin"],"cwd":"/"},
 "root":{"path":"rootfs"},"hostname":"rss",
 "mounts":[{"destination":"/proc","type":"proc","source":"proc"}],
 "linux":{"namespaces":[{"type":"pid"},{"type":"mount"},{"type":"uts"},{"type":"ipc"},{"type":"network"}]}}
JSON
"$RUNOCI" --root "$work/root" start -c "$work/bundle" "$id"
tar -C "$work/bundle/rootfs" -cf "$work/rootfs.tar" .
podman import --change 'ENV=PATH=/bin' "$work/rootfs.tar" "localhost/$id" >/dev/null
podman --runtime "$RUNOCI" --cgroup-manager cgroupfs run -d --name "$id" --net none \
    --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 "localhost/$id" sleep 600 >/dev/null
sleep 2
mon=$(pgrep -f "runoci-monitor --state-dir $work/root/$id" | head -1)
conmon=$(pgrep -f "conmon .*-n $id" | head -1)
field() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }
printf '%-16s %10s %10s %10s\n' process "VmRSS kB" "RssAnon kB" "RssFile kB"
for p in "runoci-monitor:$mon" "conmon:$conmon"; do
    name=${p%%:*} pid=${p#*:}
    printf '%-16s %10s %10s %10s\n' "$name" "$(field "$pid" VmRSS)" "$(field "$pid" RssAnon)" "$(field "$pid" RssFile)"
done
awk -v a="$(field "$mon" VmRSS)" -v b="$(field "$conmon" VmRSS)" \
    'BEGIN { printf "VmRSS ratio runoci-monitor/conmon: %.2f\n", a / b }'
