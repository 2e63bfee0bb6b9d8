#!/bin/sh
# Runs as root in the systemd VM (runoci-vmtest.service, after the data
# disk is mounted at /mnt/t): one `RESULT name ok|FAIL detail` line per
# scenario on the serial console, then powers off. Waits are bounded
# polls of a condition (`until_ok`), never fixed sleeps.
T=/mnt/t
R=/usr/local/bin/runoci
ROOT=/run/runoci-vmtest
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
echo "BOOTED $(cut -d' ' -f1 /proc/uptime)"

# report, until_ok, expect, loop_pids (tests/src/vm_helpers.sh).
. $T/helpers.sh
prop() { systemctl show -p "$2" --value "$1"; }
gone() { [ "$(prop "$1" LoadState)" = not-found ] && [ ! -d "/sys/fs/cgroup$2" ]; }

UNIT=runoci-c1.scope
CG=/runoci.slice/runoci-c1.scope

scope_started() {
    $R --root $ROOT --systemd-cgroup create --bundle $T/b/limits c1 </dev/null >/tmp/c1.out 2>&1 || { cat /tmp/c1.out; return 1; }
    $R --root $ROOT start c1 || return 1
    pid=$($R --root $ROOT state c1 | sed -n 's/.*"pid": *\([0-9]*\).*/\1/p')
    expect state "active" "$(systemctl is-active $UNIT)" || return 1
    expect ControlGroup "$CG" "$(prop $UNIT ControlGroup)" || return 1
    expect Delegate yes "$(prop $UNIT Delegate)" || return 1
    expect "the init's cgroup" "0::$CG" "$(cat /proc/$pid/cgroup)" || return 1
    systemctl status --no-pager $UNIT > /tmp/status 2>&1
    grep -q "runoci container c1" /tmp/status || { cat /tmp/status; return 1; }
    grep -q "$pid" /tmp/status || { echo "pid $pid not in:"; cat /tmp/status; return 1; }
}

limits() {
    d=/sys/fs/cgroup$CG
    expect memory.max 67108864 "$(cat $d/memory.max)" || return 1
    expect memory.swap.max 0 "$(cat $d/memory.swap.max)" || return 1
    expect pids.max 32 "$(cat $d/pids.max)" || return 1
    expect cpu.max "25000 100000" "$(cat $d/cpu.max)" || return 1
    expect cpu.weight 20 "$(cat $d/cpu.weight)" || return 1
    expect MemoryMax 67108864 "$(prop $UNIT MemoryMax)" || return 1
    expect TasksMax 32 "$(prop $UNIT TasksMax)" || return 1
    expect CPUQuotaPerSecUSec 250ms "$(prop $UNIT CPUQuotaPerSecUSec)" || return 1
    expect CPUWeight 20 "$(prop $UNIT CPUWeight)" || return 1
    expect DevicePolicy strict "$(prop $UNIT DevicePolicy)" || return 1
    prop $UNIT DeviceAllow | grep -q "/dev/char/1:3 rwm" || { echo "DeviceAllow: $(prop $UNIT DeviceAllow)"; return 1; }
}

pids_enforced() {
    # 40 forks under pids.max 32: some fail, the cgroup never passes 32.
    $R --root $ROOT exec c1 sh -c 'i=0; while [ $i -lt 40 ]; do sleep 1000 & i=$((i+1)); done 2>/dev/null; exit 0' </dev/null >/tmp/fork.out 2>&1
    d=/sys/fs/cgroup$CG
    max=$(sed -n 's/^max //p' $d/pids.events)
    [ "${max:-0}" -gt 0 ] || { echo "pids.events: $(cat $d/pids.events); current $(cat $d/pids.current)"; return 1; }
    [ "$(cat $d/pids.peak 2>/dev/null || cat $d/pids.current)" -le 32 ] || { echo "pids over the limit: $(cat $d/pids.current)"; return 1; }
}

update() {
    $R --root $ROOT update --memory 100663296 --pids-limit 50 c1 || return 1
    expect memory.max 100663296 "$(cat /sys/fs/cgroup$CG/memory.max)" || return 1
    expect MemoryMax 100663296 "$(prop $UNIT MemoryMax)" || return 1
    expect TasksMax 50 "$(prop $UNIT TasksMax)" || return 1
}

delete() {
    $R --root $ROOT delete --force c1 || return 1
    # StopUnit's job is done when delete returns; the transient unit is
    # then collected.
    until_ok 10 gone $UNIT $CG || { echo "still there: $(prop $UNIT LoadState) $(prop $UNIT ActiveState)"; ls -d /sys/fs/cgroup$CG; return 1; }
}

run_gc() {
    out=$($R --root $ROOT --systemd-cgroup run --bundle $T/b/plain rf 2>&1 </dev/null)
    # No cgroupsPath: runoci-<id>.scope in system.slice, as runc's default.
    expect "run's output" "0::/system.slice/runoci-rf.scope" "$out" || return 1
    until_ok 10 gone runoci-rf.scope /system.slice/runoci-rf.scope || { echo "runoci-rf.scope left: $(prop runoci-rf.scope ActiveState)"; return 1; }
}

# runoci's own checkpoint and restore with --systemd-cgroup, the init
# under its monitor (run_oci's dialect) before and after: the restore
# starts its scope again, with the bundle's limit as unit property and in
# the cgroup; delete stops it.
restore_scope() {
    u=runoci-ck.scope cg=/runoci.slice/runoci-ck.scope
    $R --root $ROOT --systemd-cgroup start -c $T/b/ckpt ck </dev/null >/tmp/rs.out 2>&1 || { cat /tmp/rs.out; return 1; }
    expect "scope before the checkpoint" active "$(systemctl is-active $u)" || return 1
    $R --root $ROOT checkpoint --image-path /tmp/rs.img --work-path /tmp/rs.work ck || { tail -n 15 /tmp/rs.work/dump.log; return 1; }
    until_ok 10 gone $u $cg || { echo "$u left after the checkpoint: $(prop $u ActiveState)"; return 1; }
    $R --root $ROOT delete ck || return 1
    $R --root $ROOT --systemd-cgroup restore --image-path /tmp/rs.img --work-path /tmp/rs.rwork --bundle $T/b/ckpt ck </dev/null >/tmp/rs.out 2>&1 \
        || { cat /tmp/rs.out; tail -n 15 /tmp/rs.rwork/restore.log; return 1; }
    pid=$($R --root $ROOT state ck | sed -n 's/.*"pid": *\([0-9]*\).*/\1/p')
    expect "the restored init" sleep "$(cat /proc/$pid/comm)" || return 1
    expect "its cgroup" "0::$cg" "$(cat /proc/$pid/cgroup)" || return 1
    expect state active "$(systemctl is-active $u)" || return 1
    expect MemoryMax 67108864 "$(prop $u MemoryMax)" || return 1
    expect memory.max 67108864 "$(cat /sys/fs/cgroup$cg/memory.max)" || return 1
    $R --root $ROOT delete --force ck || return 1
    until_ok 10 gone $u $cg || { echo "$u left after delete: $(prop $u ActiveState)"; return 1; }
    [ ! -e $ROOT/ck ] || { echo "record $ROOT/ck left"; return 1; }
}

P="podman --runtime $R --cgroup-manager systemd --events-backend file"
podman_run() {
    out=$($P run --rm --network host --cgroupns host --rootfs $T/rootfs sh -c 'cat /proc/self/cgroup; exit 3' </dev/null 2>&1)
    code=$?
    expect "exit code" 3 "$code" || { echo "$out"; return 1; }
    echo "$out" | grep -q '^0::/machine.slice/libpod-[0-9a-f]*.scope$' || { echo "cgroup: $out"; return 1; }
}

podman_detached() {
    $P run -d --name p1 --network host --memory 64m --rootfs $T/rootfs sleep 100000 </dev/null >/tmp/p1.out 2>&1 || { cat /tmp/p1.out; return 1; }
    id=$($P inspect --format '{{.Id}}' p1)
    u=libpod-$id.scope
    expect state active "$(systemctl is-active $u)" || return 1
    expect MemoryMax 67108864 "$(prop $u MemoryMax)" || return 1
    expect memory.max 67108864 "$(cat /sys/fs/cgroup/machine.slice/$u/memory.max)" || return 1
    $P rm -f -t 0 p1 >/dev/null || return 1
    until_ok 10 gone $u /machine.slice/$u || { echo "$u left: $(prop $u ActiveState)"; return 1; }
}

cri_image() {
    # The sandbox and container image: the busybox rootfs, with a command
    # for the pause container, into containerd's CRI namespace.
    tar -C $T/rootfs -c . | $P import --change 'CMD=["/bin/sleep","1000000"]' - localhost/runoci-pause:1 >/dev/null || return 1
    $P save --format docker-archive -o /tmp/pause.tar localhost/runoci-pause:1 >/dev/null || return 1
    until_ok 60 ctr version || return 1
    ctr -n k8s.io images import --snapshotter native /tmp/pause.tar >/dev/null
}

# Checkpoint and restore through podman (systemd cgroup manager, CRIU in
# the image), on the image cri_image imported. The container counts in a
# shell loop: $i lives in the shell's memory only, written to /data/count
# when the shell gets USR1 (no file of the bind mount is open whenever
# CRIU dumps it); /data/starts gets a line each time the loop starts.
# (report runs each scenario in a subshell: what the next one needs is
# handed on in files.)
CK=/tmp/ckdata
LOOP='echo $$ >> /data/starts; i=0; trap "echo \$i > /data/count.new; mv /data/count.new /data/count" USR1; while :; do i=$((i+1)); sleep 0.1; done'
ck_status() { $P inspect --format '{{.State.Status}}' ck 2>&1; }
ck_logs() { # CRIU's log of the last dump or restore, from podman's bundle
    d=$($P inspect --format '{{.StaticDir}}' ck 2>/dev/null) && tail -n 15 $d/$1 2>/dev/null
}
ck_count() {
    rm -f $CK/count
    $P kill --signal USR1 ck >/dev/null || return 1
    until_ok 30 test -e $CK/count || { echo "no count from ck"; return 1; }
    cat $CK/count
}
ck_count_at_least() { # ck_count_at_least N: the count reaches N
    n=0
    while [ $n -lt 300 ]; do
        c=$(ck_count) || return 1
        [ "$c" -ge $1 ] && { echo $c; return 0; }
        n=$((n + 1))
    done
    echo "count of ck stays at $c < $1"; return 1
}
# After a restore: running, in its scope, counting on from at least the
# count before the checkpoint (in /tmp/ck.c0), the loop not started again.
ck_resumed() {
    expect status running "$(ck_status)" || return 1
    c=$(ck_count) || return 1
    c0=$(cat /tmp/ck.c0)
    [ "$c" -ge "$c0" ] || { echo "count $c after restore, $c0 before the checkpoint"; return 1; }
    expect "starts of the loop" 1 "$(wc -l < $CK/starts)" || return 1
    echo "restored: count $c0 at the checkpoint, $c after the restore" > /dev/ttyS0
    ck_count_at_least $((c + 2)) >/dev/null || return 1
    id=$($P inspect --format '{{.Id}}' ck)
    pid=$($P inspect --format '{{.State.Pid}}' ck)
    expect "scope" active "$(systemctl is-active libpod-$id.scope)" || return 1
    expect "the restored init's cgroup" "0::/machine.slice/libpod-$id.scope" "$(cat /proc/$pid/cgroup)"
}
# ck_checkpoint [OPTION]: checkpointed, exited, nothing of the loop runs,
# its scope gone.
ck_checkpoint() {
    ck_count > /tmp/ck.c0 || { cat /tmp/ck.c0; return 1; }
    u=libpod-$($P inspect --format '{{.Id}}' ck).scope
    $P container checkpoint "$@" ck >/tmp/ckp.out 2>&1 || { cat /tmp/ckp.out; ck_logs dump.log; return 1; }
    expect "status after the checkpoint" exited "$(ck_status)" || return 1
    [ -z "$(loop_pids)" ] || { echo "the loop runs on: $(loop_pids)"; return 1; }
    until_ok 10 gone $u /machine.slice/$u || { echo "$u left after the checkpoint: $(prop $u ActiveState)"; return 1; }
}
# What runoci has recorded, and the libpod scopes (the conmon ones aside).
records() { find /run -maxdepth 4 -name runtime.json 2>/dev/null | sort; }
scopes() { systemctl list-units --all --plain --no-legend 'libpod-*.scope' | grep -v conmon | cut -d' ' -f1 | sort; }

podman_checkpoint() {
    mkdir -p $CK
    $P run -d --name ck --network host -v $CK:/data localhost/runoci-pause:1 sh -c "$LOOP" </dev/null >/tmp/ck.out 2>&1 || { cat /tmp/ck.out; return 1; }
    until_ok 30 test -e $CK/starts || { echo "never started: $($P logs ck 2>&1)"; return 1; }
    ck_count_at_least 5 >/dev/null || return 1
    ck_checkpoint
}

podman_restore() {
    $P container restore ck >/tmp/ckr.out 2>&1 || { cat /tmp/ckr.out; ck_logs restore.log; return 1; }
    ck_resumed
}

podman_export_import() {
    ck_checkpoint --export=/tmp/ck.tar --compress=none || return 1
    $P rm ck >/dev/null || return 1
    $P container restore --import=/tmp/ck.tar >/tmp/cki.out 2>&1 || { cat /tmp/cki.out; ck_logs restore.log; return 1; }
    ck_resumed
}

# A restore that fails in CRIU (the export with its memory pages taken
# out, imported as another container): runoci's error says why, nothing
# of it is left: no scope, no record, no process. (The export is an
# uncompressed tar: the image has no zstd, podman's default.)
podman_restore_broken() {
    rm -rf /tmp/bad && mkdir /tmp/bad && tar -C /tmp/bad -xf /tmp/ck.tar || return 1
    ls /tmp/bad/checkpoint | grep -q '^pages-' || { echo "no pages in the export: $(ls /tmp/bad/checkpoint)"; return 1; }
    rm -f /tmp/bad/checkpoint/pages-*.img
    tar -C /tmp/bad -cf /tmp/bad.tar . || return 1
    before="$(records) $(scopes) $(loop_pids)"
    if $P container restore --import=/tmp/bad.tar --name ckbad >/tmp/ckbad.out 2>&1; then
        echo "restore of a broken image succeeded"; return 1
    fi
    grep -q "criu.*failed" /tmp/ckbad.out || { echo "error without CRIU's reason: $(cat /tmp/ckbad.out)"; return 1; }
    expect "records, scopes and loops" "$before" "$(records) $(scopes) $(loop_pids)" || return 1
    $P rm -f ckbad >/dev/null 2>&1
    echo "podman_restore_broken: podman said: $(tail -n 1 /tmp/ckbad.out)" > /dev/ttyS0
}

podman_ck_cleanup() {
    id=$($P inspect --format '{{.Id}}' ck) || return 1
    u=libpod-$id.scope
    # runoci's record (wherever podman's --root puts it): there now, gone after.
    record() { find /run -maxdepth 4 -name runtime.json -path "*$id*" 2>/dev/null; }
    [ -n "$(record)" ] || { echo "no runoci record of $id under /run"; return 1; }
    $P rm -f -t 0 ck >/dev/null || return 1
    until_ok 10 gone $u /machine.slice/$u || { echo "$u left: $(prop $u ActiveState)"; return 1; }
    [ -z "$(record)" ] || { echo "record left: $(record)"; return 1; }
    [ -z "$(loop_pids)" ] || { echo "the loop runs on: $(loop_pids)"; return 1; }
}

report scope_started scope_started
report limits limits
report pids_enforced pids_enforced
report update update
report delete delete
report run_gc run_gc
report restore_scope restore_scope
report podman_run podman_run
report podman_detached podman_detached
report cri_image cri_image
python3 $T/cri.py | tee /tmp/cri.out
grep -q "^RESULT cri_pod ok" /tmp/cri.out || journalctl -u containerd --no-pager -o cat | grep -i -E "error|fail" | tail -15
report podman_checkpoint podman_checkpoint
report podman_restore podman_restore
report podman_export_import podman_export_import
report podman_restore_broken podman_restore_broken
report podman_ck_cleanup podman_ck_cleanup
echo "DONE $(cut -d' ' -f1 /proc/uptime)"
systemctl poweroff --no-block -ff
