#!/bin/busybox sh
# /init of the CRIU test VM (see ../criu_vm.rs). Stage 1 copies the
# initramfs to a tmpfs and switch_roots into it (pivot_root, which runoci
# uses, refuses a root on rootfs; so does CRIU's restore). Stage 2 loads
# the modules CRIU needs, runs each scenario and prints one
# "RESULT name ok|FAIL detail" line per scenario, then powers off. Waits
# are bounded polls of a condition, never fixed sleeps.

if [ ! -e /.stage2 ]; then
    /bin/busybox mkdir -p /proc /sys /dev /newroot
    /bin/busybox --install -s /bin
    mount -t tmpfs -o size=700m root /newroot
    for e in bin sbin usr lib lib64 m s rootfs init helpers.sh; do
        [ -e /$e ] && cp -a /$e /newroot/
    done
    mkdir -p /newroot/proc /newroot/sys /newroot/dev /newroot/run /newroot/tmp /newroot/d /newroot/ck
    touch /newroot/.stage2
    exec switch_root /newroot /init
fi

# iproute2's ip and iptables before busybox's applets: CRIU runs them.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t cgroup2 cgroup2 /sys/fs/cgroup
CG=/sys/fs/cgroup
for c in $(cat $CG/cgroup.controllers); do
    echo "+$c" > $CG/cgroup.subtree_control
done
ip link set lo up
# In dependency order (criu_vm.rs lists them).
for m in $(cat /m/order); do
    insmod /m/$m || echo "insmod $m failed"
done
echo "BOOTED uptime $(cut -d' ' -f1 /proc/uptime)"

R=/run/runoci
mkdir -p $R
rt() { runoci --root $R "$@"; }
# report, until_ok, expect, loop_pids (tests/src/vm_helpers.sh).
. /helpers.sh
status() { rt state $1 2>&1 | sed -n 's/.*"status": *"\([a-z]*\)".*/\1/p'; }
is_status() { [ "$(status $1)" = "$2" ]; }
pid_of() { rt state $1 | sed -n 's/.*"pid": *\([0-9]*\).*/\1/p'; }
# The container's count: the loop writes it when signalled (USR1), so no
# file of the bind mount is open whenever CRIU dumps it.
count() { # count ID DATA
    rm -f $2/count
    rt kill $1 USR1 || return 1
    until_ok 30 test -e $2/count || { echo "no count from $1"; return 1; }
    cat $2/count
}
# count_at_least ID DATA N: the count reaches N.
count_at_least() {
    n=0
    while [ $n -lt 300 ]; do
        c=$(count $1 $2) || return 1
        [ "$c" -ge $3 ] && { echo $c; return 0; }
        n=$((n + 1))
    done
    echo "count of $1 stays at $c < $3"; return 1
}
# pid_ns_one ID: the init is pid 1 in its pid namespace.
pid_ns_one() {
    p=$(pid_of $1)
    ns=$(sed -n 's/^NSpid:.*[[:space:]]\([0-9]*\)$/\1/p' /proc/$p/status)
    expect "pid of $1's init ($p) in its namespace" 1 "$ns"
}
cg_gone() { [ ! -e $CG/$1 ] || [ -z "$(cat $CG/$1/cgroup.procs 2>/dev/null)" ]; }
no_trace() { # no_trace ID: nothing of container ID is left
    [ ! -e $R/$1 ] || { echo "$R/$1 left"; return 1; }
    [ ! -e $CG/$1 ] || { echo "cgroup $CG/$1 left"; return 1; }
    ! grep -q "$1" /proc/self/mountinfo || { echo "mount left: $(grep "$1" /proc/self/mountinfo)"; return 1; }
}

if out=$(criu check 2>&1) && echo "$out" | grep -q "Looks good"; then
    echo "RESULT criu_check ok"
else
    echo "RESULT criu_check FAIL $(echo "$out" | tail -n 5 | tr '\n' ' ')"
fi

D1=/d/c1
mkdir -p $D1 /s/c1/rootfs && cp -a /rootfs/. /s/c1/rootfs/

# 1. A container under its monitor (run_oci's start), counting; the
# checkpoint ends it: stopped, nothing of it runs. (report runs each in a
# subshell: the count at the checkpoint is handed on in /tmp/c0.)
dump_monitor() {
    rt start -c /s/c1 c1 </dev/null >/tmp/c1.out 2>&1 || { cat /tmp/c1.out; return 1; }
    until_ok 30 test -e $D1/starts || { echo "never started"; return 1; }
    C0=$(count_at_least c1 $D1 5) || { echo "$C0"; return 1; }
    echo $C0 > /tmp/c0
    pid=$(pid_of c1)
    rt checkpoint --image-path /ck/c1 --work-path /ck/c1.work c1 || { tail -n 20 /ck/c1.work/dump.log; return 1; }
    until_ok 30 is_status c1 stopped || { echo "state after checkpoint: $(rt state c1 2>&1)"; return 1; }
    [ ! -d /proc/$pid ] || grep -q '^State:.*Z' /proc/$pid/status || { echo "init $pid runs on"; return 1; }
    cg_gone c1 || { echo "processes left in $CG/c1: $(cat $CG/c1/cgroup.procs)"; return 1; }
    ls /ck/c1 | grep -q '^pages-' || { echo "no pages in /ck/c1: $(ls /ck/c1)"; return 1; }
    rt delete c1 || return 1
}
report dump_monitor dump_monitor

# 2. Restored under its monitor: the count goes on from where it stood
# (the loop did not start again), the init is pid 1 in its namespace.
restore_monitor() {
    rt restore --image-path /ck/c1 --work-path /ck/c1.rwork -b /s/c1 c1 </dev/null >/tmp/r1.out 2>&1 \
        || { cat /tmp/r1.out; tail -n 20 /ck/c1.rwork/restore.log; return 1; }
    expect status running "$(status c1)" || return 1
    c=$(count c1 $D1) || return 1
    C0=$(cat /tmp/c0)
    [ "$c" -ge "$C0" ] || { echo "count $c after restore, $C0 before the checkpoint"; return 1; }
    expect "starts of the loop" 1 "$(wc -l < $D1/starts)" || return 1
    pid_ns_one c1 || return 1
    count_at_least c1 $D1 $((c + 2)) >/dev/null || return 1
}
report restore_monitor restore_monitor

# 3. --leave-running: the container counts on; then, the original killed
# and deleted (as runc does: the image's pids must be free), restored
# under a new id from that image.
leave_running() {
    C2=$(count c1 $D1) || return 1
    rt checkpoint --leave-running --image-path /ck/c1b --work-path /ck/c1b.work c1 \
        || { tail -n 20 /ck/c1b.work/dump.log; return 1; }
    expect status running "$(status c1)" || return 1
    count_at_least c1 $D1 $((C2 + 2)) >/dev/null || return 1
    rt delete --force c1 || return 1
    no_trace c1 || return 1
    rt restore --image-path /ck/c1b --work-path /ck/c1b.rwork -b /s/c1 c1new </dev/null >/tmp/r2.out 2>&1 \
        || { cat /tmp/r2.out; tail -n 20 /ck/c1b.rwork/restore.log; return 1; }
    expect status running "$(status c1new)" || return 1
    c=$(count c1new $D1) || return 1
    [ "$c" -ge "$C2" ] || { echo "count $c after restore, $C2 before the checkpoint"; return 1; }
    expect "starts of the loop" 1 "$(wc -l < $D1/starts)" || return 1
    pid_ns_one c1new || return 1
    [ -e $CG/c1new ] || { echo "no cgroup $CG/c1new"; return 1; }
}
report leave_running leave_running

# 4. A pre-dump, then a dump on top of it (--parent-path relative to the
# images, as runc), then a restore from the dump.
pre_dump() {
    C3=$(count c1new $D1) || return 1
    rt checkpoint --pre-dump --image-path /ck/p1 --work-path /ck/p1.work c1new \
        || { tail -n 20 /ck/p1.work/pre-dump.log; return 1; }
    expect "status after the pre-dump" running "$(status c1new)" || return 1
    count_at_least c1new $D1 $((C3 + 1)) >/dev/null || return 1
    rt checkpoint --image-path /ck/p2 --work-path /ck/p2.work --parent-path ../p1 c1new \
        || { tail -n 20 /ck/p2.work/dump.log; return 1; }
    until_ok 30 is_status c1new stopped || { echo "state after checkpoint: $(rt state c1new 2>&1)"; return 1; }
    [ -L /ck/p2/parent ] || { echo "no parent link in /ck/p2: $(ls -l /ck/p2)"; return 1; }
    rt delete c1new || return 1
    rt restore --image-path /ck/p2 --work-path /ck/p2.rwork -b /s/c1 c1new </dev/null >/tmp/r3.out 2>&1 \
        || { cat /tmp/r3.out; tail -n 20 /ck/p2.rwork/restore.log; return 1; }
    c=$(count c1new $D1) || return 1
    [ "$c" -ge "$C3" ] || { echo "count $c after restore, $C3 before the pre-dump"; return 1; }
    pid_ns_one c1new || return 1
}
report pre_dump pre_dump

# 5. After a restore, as after a start: kill, the exit status, poststop
# (once), delete.
after_restore() {
    rt kill c1new KILL || return 1
    until_ok 30 is_status c1new stopped || { echo "state after kill: $(rt state c1new 2>&1)"; return 1; }
    expect exit-status 137 "$(cat $R/c1new/exit-status 2>&1)" || return 1
    cg_gone c1new || { echo "processes left in $CG/c1new"; return 1; }
    # One poststop per stop: the two checkpoints, the delete --force, this.
    expect "poststop runs" 4 "$(wc -l < $D1/poststop)" || return 1
    rt delete c1new || return 1
    no_trace c1new || return 1
    expect "poststop runs after delete" 4 "$(wc -l < $D1/poststop)"
}
report after_restore after_restore

# 6. A broken image (its memory pages gone): restore fails with CRIU's
# reason on one line and leaves nothing.
broken_image() {
    cp -a /ck/c1 /ck/broken
    rm -f /ck/broken/pages-*.img
    before=$(loop_pids)
    if rt restore --image-path /ck/broken --work-path /ck/broken.work -b /s/c1 bad </dev/null >/tmp/bad.out 2>&1; then
        echo "restore of a broken image succeeded"; return 1
    fi
    expect "lines of the error" 1 "$(wc -l < /tmp/bad.out)" || { cat /tmp/bad.out; return 1; }
    grep -q "restore.log" /tmp/bad.out && grep -q "Error" /tmp/bad.out \
        || { echo "error without CRIU's reason: $(cat /tmp/bad.out)"; return 1; }
    no_trace bad || return 1
    expect "processes running the loop" "$before" "$(loop_pids)" || return 1
    rt list 2>&1 | grep -q bad && { echo "bad listed: $(rt list)"; return 1; }
    echo "broken_image: runoci said: $(cat /tmp/bad.out)" > /dev/console
}
report broken_image broken_image

# 7. runc's dialect: create/start, checkpoint, restore --detach (the
# restored init is the caller's child), kill, delete.
D2=/d/c2
mkdir -p $D2 /s/c2/rootfs && cp -a /rootfs/. /s/c2/rootfs/
runc_dialect() {
    rt create --bundle /s/c2 c2 </dev/null >/dev/null 2>/tmp/c2.err || { cat /tmp/c2.err; return 1; }
    rt start c2 || return 1
    c0=$(count_at_least c2 $D2 3) || { echo "$c0"; return 1; }
    rt checkpoint --image-path /ck/c2 c2 || { tail -n 20 /ck/c2/dump.log; return 1; }
    until_ok 30 is_status c2 stopped || { echo "state after checkpoint: $(rt state c2 2>&1)"; return 1; }
    rt delete c2 || return 1
    rt restore --detach --image-path /ck/c2 --work-path /ck/c2.rwork -b /s/c2 c2 </dev/null >/dev/null 2>/tmp/c2r.err \
        || { cat /tmp/c2r.err; tail -n 20 /ck/c2.rwork/restore.log; return 1; }
    expect status running "$(status c2)" || return 1
    c=$(count c2 $D2) || return 1
    [ "$c" -ge "$c0" ] || { echo "count $c after restore, $c0 before"; return 1; }
    pid_ns_one c2 || return 1
    # prestart and createRuntime ran at the create and at the restore,
    # the second time with the restored init's pid.
    expect "prestart runs" 2 "$(wc -l < $D2/prestart)" || return 1
    expect "createRuntime runs" 2 "$(wc -l < $D2/createRuntime)" || return 1
    expect "prestart's pid after restore" "$(rt state c2 | grep -o '"pid": *[0-9]*' | grep -o '[0-9]*$')" \
        "$(tail -n 1 $D2/prestart)" || return 1
    rt kill c2 KILL || return 1
    until_ok 30 is_status c2 stopped || { echo "state after kill: $(rt state c2 2>&1)"; return 1; }
    rt delete c2 || return 1
    no_trace c2 || return 1
    expect "poststop runs" 2 "$(wc -l < $D2/poststop)"
}
report runc_dialect runc_dialect

# 8. run_oci's -b A:B bind mount (not in the config): recorded, an
# external mount of the dump, bound again from the same source at restore,
# into a fresh rootfs whose mountpoints the restore makes.
mkdir -p /d/extra && echo seen > /d/extra/file
bind_option() {
    rt start -c /s/c2 -b /d/extra:/extra c3 </dev/null >/tmp/c3.out 2>&1 || { cat /tmp/c3.out; return 1; }
    c0=$(count_at_least c3 $D2 3) || { echo "$c0"; return 1; }
    rt checkpoint --image-path /ck/c3 c3 || { tail -n 20 /ck/c3/dump.log; return 1; }
    until_ok 30 is_status c3 stopped || { echo "state after checkpoint: $(rt state c3 2>&1)"; return 1; }
    rt delete c3 || return 1
    # Restored from a fresh copy of the rootfs, without the mountpoints
    # /data and /extra the first start made.
    rm -rf /s/c2/rootfs && mkdir /s/c2/rootfs && cp -a /rootfs/. /s/c2/rootfs/
    [ ! -e /s/c2/rootfs/data ] && [ ! -e /s/c2/rootfs/extra ] || { echo "mountpoints in the fresh rootfs"; return 1; }
    rt restore --image-path /ck/c3 --work-path /ck/c3.rwork -b /s/c2 c3 </dev/null >/tmp/c3r.out 2>&1 \
        || { cat /tmp/c3r.out; tail -n 20 /ck/c3.rwork/restore.log; return 1; }
    c=$(count c3 $D2) || return 1
    [ "$c" -ge "$c0" ] || { echo "count $c after restore, $c0 before"; return 1; }
    expect "/extra/file in the restored container" seen "$(rt exec c3 cat /extra/file 2>&1)" || return 1
    rt kill c3 KILL || return 1
    until_ok 30 is_status c3 stopped || { echo "state after kill: $(rt state c3 2>&1)"; return 1; }
    rt delete c3 || return 1
    no_trace c3
}
report bind_option bind_option

echo "DONE uptime $(cut -d' ' -f1 /proc/uptime)"
poweroff -f
