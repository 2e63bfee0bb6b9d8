# Shell helpers of the VM tests' guest scripts (criu_vm/init.sh,
# systemd_cgroup_vm/run.sh source it): scenarios report one
# `RESULT name ok|FAIL detail` line each; waits are bounded polls of a
# condition, never fixed sleeps.

# report NAME FUNCTION: FUNCTION prints why it failed on stdout.
report() {
    if out=$("$2" 2>&1); then
        echo "RESULT $1 ok"
    else
        echo "RESULT $1 FAIL $(printf '%s' "$out" | tr '\n' ' ' | cut -c1-900)"
    fi
}
# until_ok SECONDS COMMAND...: the command succeeds within SECONDS.
until_ok() {
    n=$(($1 * 10)); shift
    while [ $n -gt 0 ]; do "$@" >/dev/null 2>&1 && return 0; n=$((n - 1)); sleep 0.1; done
    "$@"
}
expect() { # expect WHAT WANTED GOT
    [ "$2" = "$3" ] || { echo "$1: wanted [$2], got [$3]"; return 1; }
}
# The pids running the CRIU scenarios' counting loop (its command line
# names /data/starts; the bracket keeps grep's own from matching).
loop_pids() { grep -l 'data/start[s]' /proc/[0-9]*/cmdline 2>/dev/null | sort; }
