#!/bin/busybox sh
# /init of the cgroup v2 test VM (see ../cgroups_v2_vm.rs). Stage 1 runs on
# the initramfs: pivot_root (which runoci uses) refuses a root on rootfs,
# so everything is copied to a tmpfs and switch_root makes that the root.
# Stage 2 mounts a pure cgroup2 hierarchy, runs each scenario with runoci
# and prints one "RESULT name ok|FAIL detail" line per scenario.

if [ ! -e /.stage2 ]; then
    /bin/busybox mkdir -p /proc /sys /dev /newroot /usr/sbin /sbin
    /bin/busybox --install -s /bin
    mount -t tmpfs -o size=700m root /newroot
    for e in bin usr lib lib64 s rootfs init; do
        [ -e /$e ] && cp -a /$e /newroot/
    done
    mkdir -p /newroot/proc /newroot/sys /newroot/dev /newroot/run /newroot/tmp
    touch /newroot/.stage2
    exec switch_root /newroot /init
fi

export PATH=/bin:/usr/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t cgroup2 cgroup2 /sys/fs/cgroup
CG=/sys/fs/cgroup
for c in $(cat $CG/cgroup.controllers); do
    echo "+$c" > $CG/cgroup.subtree_control
done
echo "BOOTED uptime $(cut -d' ' -f1 /proc/uptime)"

R=/run/runoci
mkdir -p $R
rt() { runoci --root $R "$@"; }
result() { echo "RESULT $1 $(echo "$2" | tr '\n' ' ' | cut -c1-600)"; }
prep() { cp -a /rootfs /s/$1/rootfs; }
gone() { [ ! -e $CG/$1 ]; }
wait_file() {
    i=0
    while [ ! -e "$1" ]; do
        i=$((i + 1)); [ $i -gt 600 ] && return 1; sleep 0.1
    done
}
wait_stopped() {
    i=0
    while ! rt state $1 2>/dev/null | grep -q '"stopped"'; do
        i=$((i + 1)); [ $i -gt 600 ] && return 1; sleep 0.1
    done
}
release() { timeout 60 sh -c "echo go > $1"; }

# The hierarchy: pure cgroup2 with the controllers the tests need.
sub=$(cat $CG/cgroup.subtree_control)
missing=
for c in cpu memory pids; do
    echo " $sub " | grep -q " $c " || missing="$missing $c"
done
mounts=$(grep -c ' cgroup ' /proc/mounts)
if [ -z "$missing" ] && [ "$mounts" = 0 ]; then
    result controllers "ok $sub"
else
    result controllers "FAIL missing:$missing v1 mounts: $mounts; subtree_control: $sub"
fi

cleanup_exit=ok
cleanup_destroy=ok

# Memory: 32 MiB, no swap; init eats memory; run exits 137.
prep oom-run
rt run -c /s/oom-run oom-run > /tmp/oom-run.out 2>&1
rc=$?
gone oom-run || cleanup_exit="FAIL $CG/oom-run left after run"
if [ $rc = 137 ]; then result oom_run ok; else result oom_run "FAIL exit $rc: $(tail -c 400 /tmp/oom-run.out)"; fi

# Same, started: exit-status 137 and the state's exit.oomKilled.
prep oom-start
mkfifo /s/oom-start/rootfs/gate
if rt start -c /s/oom-start oom-start > /tmp/oom-start.out 2>&1; then
    limit=$(cat $CG/oom-start/memory.max)
    # The monitor's event stream (memory.events watched with inotify).
    rt events oom-start > /tmp/oom-start.events 2>&1 &
    sleep 1
    release /s/oom-start/rootfs/gate
    wait_stopped oom-start
    sleep 1
    st=$(cat $R/oom-start/exit-status 2>&1)
    state=$(rt state oom-start 2>&1)
    gone oom-start || cleanup_exit="FAIL $CG/oom-start left after the exit"
    if [ "$limit" = 33554432 ] && [ "$st" = 137 ] && echo "$state" | grep -q '"oomKilled": *true' \
        && grep -q '"event":"oom"' /tmp/oom-start.events; then
        result oom_start ok
    else
        result oom_start "FAIL memory.max $limit exit-status $st state $state events $(cat /tmp/oom-start.events)"
    fi
    rt destroy oom-start
else
    result oom_start "FAIL start: $(cat /tmp/oom-start.out)"
fi

# pids: a fork bomb under pids.max 10 (see the FORK_BOMB comment in
# cgroups_host.rs): 8 sleeps besides the init and the subshell.
prep pids-bomb
out=$(rt run -c /s/pids-bomb pids-bomb 2>&1)
rc=$?
gone pids-bomb || cleanup_exit="FAIL $CG/pids-bomb left after run"
if [ $rc = 0 ] && echo "$out" | grep -q '^forked 8$' && echo "$out" | grep -q "can't fork"; then
    result pids_bomb ok
else
    result pids_bomb "FAIL exit $rc: $out"
fi

# update --pids-limit 20 lets 10 more run: 20 at the peak, 19 once the
# second subshell has died at its failed fork.
prep pids-update
mkfifo /s/pids-update/rootfs/gate
T=/s/pids-update/rootfs/tmp
if rt start -c /s/pids-update pids-update > /tmp/pids-update.out 2>&1; then
    wait_file $T/done1
    n1=$(cat $T/n1); cur1=$(cat $CG/pids-update/pids.current); max1=$(cat $CG/pids-update/pids.max)
    rt update --pids-limit 20 pids-update
    max2=$(cat $CG/pids-update/pids.max)
    release /s/pids-update/rootfs/gate
    wait_file $T/done2
    n2=$(cat $T/n2); cur2=$(cat $CG/pids-update/pids.current)
    rt destroy --force pids-update
    gone pids-update || cleanup_destroy="FAIL $CG/pids-update left after destroy --force"
    [ -e $R/pids-update ] && cleanup_destroy="FAIL $R/pids-update left after destroy --force"
    if [ "$n1/$cur1/$max1/$max2/$n2/$cur2" = "8/9/10/20/10/19" ]; then
        result pids_update ok
    else
        result pids_update "FAIL forks/current/max before, max after, forks/current after: $n1/$cur1/$max1/$max2/$n2/$cur2"
    fi
else
    result pids_update "FAIL start: $(cat /tmp/pids-update.out)"
fi

# Devices: the BPF program. /fuse is 10:229 with no fuse driver loaded
# (ENXIO/ENODEV when allowed, EPERM when the filter denies), /kmsg 1:11.
devices() {
    prep $1
    out=$(rt run -c /s/$1 $1 2>&1)
    rc=$?
    gone $1 || cleanup_exit="FAIL $CG/$1 left after run"
    echo "$out" | tr '\n' ';'
    [ $rc = 0 ] || echo " exit $rc"
}
EPERM="Operation not permitted"
out=$(devices dev-none)
case "$out" in
    "/dev/null ok;/mynull ok;/kmsg ok;/fuse denied: "*) 
        if echo "$out" | grep -q "$EPERM"; then result devices_none "FAIL $out"; else result devices_none ok; fi ;;
    *) result devices_none "FAIL $out" ;;
esac
out=$(devices dev-deny-all)
case "$out" in
    "/dev/null ok;/mynull ok;/kmsg denied: "*"$EPERM;/fuse denied: "*"$EPERM;") result devices_deny_all ok ;;
    *) result devices_deny_all "FAIL $out" ;;
esac
out=$(devices dev-deny-one)
case "$out" in
    "/dev/null ok;/mynull ok;/kmsg ok;/fuse denied: "*"$EPERM;") result devices_deny_one ok ;;
    *) result devices_deny_one "FAIL $out" ;;
esac

# cpu: quota 20000/100000 over two busy loops. The quota promises a
# ceiling per enforcement period, however slow the machine (this guest is
# emulated): usage against the kernel's own count of periods, not wall
# time, once 30 periods have passed with throttling (which proves the loops
# wanted more than the quota gave).
prep cpu-quota
cpustat() { grep "^$1 " $CG/cpu-quota/cpu.stat | cut -d' ' -f2; }
if rt start -c /s/cpu-quota cpu-quota > /tmp/cpu.out 2>&1; then
    wait_file /s/cpu-quota/rootfs/tmp/spinning
    # Periods before usage at the start, after it at the end: every period
    # the usage window touches is counted, however late a read is.
    p0=$(cpustat nr_periods); u0=$(cpustat usage_usec)
    i=0
    while [ $(( $(cpustat nr_periods) - p0 )) -lt 30 ] || [ "$(cpustat nr_throttled)" -eq 0 ]; do
        i=$((i + 1)); [ $i -gt 1200 ] && break
        sleep 0.1
    done
    u1=$(cpustat usage_usec); p1=$(cpustat nr_periods)
    thr=$(cpustat nr_throttled)
    max=$(cat $CG/cpu-quota/cpu.max)
    periods=$((p1 - p0)); used=$((u1 - u0))
    # 20 ms a period, a partial period at either end, and the 5 ms slices
    # runtime is handed to each CPU in.
    allowed=$(( (periods + 2) * 20000 + 10000 ))
    rt destroy --force cpu-quota
    gone cpu-quota || cleanup_destroy="FAIL $CG/cpu-quota left after destroy --force"
    if [ $periods -ge 30 ] && [ $used -le $allowed ] && [ "$thr" -gt 0 ] && [ "$max" = "20000 100000" ]; then
        result cpu_quota "ok used ${used}us in $periods periods"
    else
        result cpu_quota "FAIL used ${used}us in $periods periods (allowed $allowed) nr_throttled $thr cpu.max $max"
    fi
else
    result cpu_quota "FAIL start: $(cat /tmp/cpu.out)"
fi

# freeze: pause and resume through v2's cgroup.freeze; the kernel says
# frozen (cgroup.events) and a counting loop stops, then counts again.
prep freeze
if rt start -c /s/freeze freeze > /tmp/freeze.out 2>&1; then
    wait_file /s/freeze/rootfs/tmp/count
    rt pause freeze > /tmp/freeze.out 2>&1
    i=0
    while ! grep -q '^frozen 1' $CG/freeze/cgroup.events; do
        i=$((i + 1)); [ $i -gt 600 ] && break; sleep 0.1
    done
    frozen=$(grep '^frozen' $CG/freeze/cgroup.events); want=$(cat $CG/freeze/cgroup.freeze)
    status=$(rt state freeze 2>&1 | grep -o '"status": *"[a-z]*"')
    # Frozen: the count stands still across a read, a pause and a read.
    c0=$(cat /s/freeze/rootfs/tmp/count); sleep 0.5; c1=$(cat /s/freeze/rootfs/tmp/count)
    rt resume freeze >> /tmp/freeze.out 2>&1
    i=0
    while grep -q '^frozen 1' $CG/freeze/cgroup.events || [ "$(cat /s/freeze/rootfs/tmp/count)" = "$c1" ]; do
        i=$((i + 1)); [ $i -gt 600 ] && break; sleep 0.1
    done
    thawed=$(grep '^frozen' $CG/freeze/cgroup.events); c2=$(cat /s/freeze/rootfs/tmp/count)
    rt destroy --force freeze
    gone freeze || cleanup_destroy="FAIL $CG/freeze left after destroy --force"
    if [ "$want" = 1 ] && [ "$frozen" = "frozen 1" ] && [ "$c0" = "$c1" ] \
        && echo "$status" | grep -q paused && [ "$thawed" = "frozen 0" ] && [ "$c2" != "$c1" ]; then
        result freeze ok
    else
        result freeze "FAIL cgroup.freeze $want events '$frozen' then '$thawed' count $c0 $c1 $c2 state $status: $(cat /tmp/freeze.out)"
    fi
else
    result freeze "FAIL start: $(cat /tmp/freeze.out)"
fi

# Rootless with a delegated subtree, as systemd's Delegate=yes gives a
# user: uid 1000 owns user-1000/ and its cgroup.procs, cgroup.threads and
# cgroup.subtree_control, and its shell runs in user-1000/shell (a leaf:
# a cgroup with processes passes no controllers down). runoci runs as it
# (busybox su) with no --root: its state goes to XDG_RUNTIME_DIR.
mkdir -p /etc /run/user/1000
echo "rl:x:1000:1000::/tmp:/bin/sh" >> /etc/passwd
echo "rl:x:1000:" >> /etc/group
chown 1000:1000 /run/user/1000
chmod 700 /run/user/1000
D=$CG/user-1000
mkdir -p $D/shell
for d in $D $D/shell; do
    chown 1000:1000 $d $d/cgroup.procs $d/cgroup.threads $d/cgroup.subtree_control
done
cat > /tmp/as-rl <<'EOF'
#!/bin/sh
echo $$ > /sys/fs/cgroup/user-1000/shell/cgroup.procs || exit 99
exec su -s /bin/sh -c 'export XDG_RUNTIME_DIR=/run/user/1000 PATH=/bin:/usr/bin; exec "$0" "$@"' -- rl "$@"
EOF
chmod 755 /tmp/as-rl
U=/tmp/as-rl
X=/run/user/1000/runoci

# Memory: 32 MiB in the delegated cgroup; the init eats memory once the
# gate opens; the kernel's OOM killer ends it (exit-status 137, oomKilled).
prep rl-oom
mkfifo /s/rl-oom/rootfs/gate
if $U runoci start -c /s/rl-oom rl-oom > /tmp/rl-oom.out 2>&1; then
    limit=$(cat $D/rl-oom/memory.max)
    owner=$(stat -c %u $D/rl-oom)
    release /s/rl-oom/rootfs/gate
    wait_file $X/rl-oom/exit-status
    st=$(cat $X/rl-oom/exit-status 2>&1)
    i=0
    while ! $U runoci state rl-oom 2>/dev/null | grep -q '"stopped"'; do
        i=$((i + 1)); [ $i -gt 600 ] && break; sleep 0.1
    done
    state=$($U runoci state rl-oom 2>&1)
    $U runoci destroy rl-oom >> /tmp/rl-oom.out 2>&1
    gone user-1000/rl-oom || cleanup_destroy="FAIL $D/rl-oom left after a rootless destroy"
    [ -e $X/rl-oom ] && cleanup_destroy="FAIL $X/rl-oom left after a rootless destroy"
    if [ "$limit" = 33554432 ] && [ "$owner" = 1000 ] && [ "$st" = 137 ] \
        && echo "$state" | grep -q '"oomKilled": *true'; then
        result rootless_memory ok
    else
        result rootless_memory "FAIL memory.max $limit owner $owner exit-status $st state $state: $(cat /tmp/rl-oom.out)"
    fi
else
    result rootless_memory "FAIL start: $(cat /tmp/rl-oom.out)"
fi

# pids: the fork bomb of pids_bomb, as the plain user, under pids.max 10.
prep rl-pids
out=$($U runoci run -c /s/rl-pids rl-pids 2>&1)
rc=$?
gone user-1000/rl-pids || cleanup_exit="FAIL $D/rl-pids left after a rootless run"
if [ $rc = 0 ] && echo "$out" | grep -q '^forked 8$' && echo "$out" | grep -q "can't fork"; then
    result rootless_pids ok
else
    result rootless_pids "FAIL exit $rc: $out"
fi

result cleanup_exit "$cleanup_exit"
result cleanup_destroy "$cleanup_destroy"
echo "DONE uptime $(cut -d' ' -f1 /proc/uptime)"
poweroff -f
