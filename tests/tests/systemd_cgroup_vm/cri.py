"""A pod through containerd's CRI (runtime.v1) on the runoci handler with
SystemdCgroup = true, in the systemd VM. A minimal CRI client: the few
messages it sends are encoded by hand (field numbers of cri-api's
api.proto) and sent with grpcio's generic calls, so no generated code is
needed. Prints one `RESULT name ok|FAIL detail` line per step."""

import os
import subprocess
import sys
import time

import grpc

SOCK = "unix:///run/containerd/containerd.sock"
IMAGE = "localhost/runoci-pause:1"
SLICE = "runocipods.slice"
MIB = 1 << 20


def varint(n):
    n &= (1 << 64) - 1
    out = b""
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def s(num, text):
    data = text.encode() if isinstance(text, str) else text
    return varint(num << 3 | 2) + varint(len(data)) + data


def m(num, *parts):
    return s(num, b"".join(parts))


def i(num, n):
    return varint(num << 3) + varint(n)


def fields(data):
    """field number -> list of values (bytes for length-delimited)."""
    out, pos = {}, 0
    while pos < len(data):
        key, pos = read_varint(data, pos)
        num, wire = key >> 3, key & 7
        if wire == 0:
            val, pos = read_varint(data, pos)
        elif wire == 2:
            size, pos = read_varint(data, pos)
            val, pos = data[pos : pos + size], pos + size
        elif wire == 1:
            val, pos = data[pos : pos + 8], pos + 8
        elif wire == 5:
            val, pos = data[pos : pos + 4], pos + 4
        else:
            raise ValueError("wire type %d" % wire)
        out.setdefault(num, []).append(val)
    return out


def read_varint(data, pos):
    n = shift = 0
    while True:
        b = data[pos]
        pos += 1
        n |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return n, pos


channel = grpc.insecure_channel(SOCK)


def call(method, body, timeout=120):
    fn = channel.unary_unary("/runtime.v1.RuntimeService/" + method)
    return fields(fn(body, timeout=timeout))


def sh(cmd):
    return subprocess.run(cmd, shell=True, capture_output=True, text=True).stdout.strip()


def prop(unit, name):
    return sh("systemctl show -p %s --value %s" % (name, unit))


def cmdline(pid):
    try:
        with open("/proc/%s/cmdline" % pid, "rb") as f:
            return f.read()
    except OSError:
        return b""


def until(what, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if what():
            return True
        time.sleep(0.1)
    return what()


def expect(what, wanted, got):
    if wanted != got:
        raise AssertionError("%s: wanted %r, got %r" % (what, wanted, got))


results = []


def step(name, fn):
    try:
        fn()
        print("RESULT %s ok" % name, flush=True)
    except Exception as e:  # noqa: BLE001 - every failure is reported
        detail = " ".join(str(e).split())[:600]
        print("RESULT %s FAIL %s" % (name, detail), flush=True)
        results.append(name)


# PodSandboxConfig: metadata, linux { cgroup_parent, security_context {
# namespace_options { network: NODE } } } (no CNI in the VM).
SANDBOX = m(1, s(1, "pod1"), s(2, "uid-pod1"), s(3, "default"), i(4, 0)) + m(
    8, s(1, SLICE), m(2, m(1, i(1, 2)))
)
state = {}


def cri_pod():
    pod = call("RunPodSandbox", m(1, SANDBOX) + s(2, "runoci"))[1][0].decode()
    state["pod"] = pod
    res = i(1, 100000) + i(2, 20000) + i(4, 64 * MIB)
    config = (
        m(1, s(1, "c1"))
        + m(2, s(1, IMAGE))
        + s(3, "sh")
        + s(4, "-c")
        + s(4, "echo started; exec sleep 1000000")
        + m(15, m(1, res))
    )
    cid = call("CreateContainer", s(1, pod) + m(2, config) + m(3, SANDBOX))[1][0].decode()
    state["cid"] = cid
    call("StartContainer", s(1, cid))
    for id_ in (pod, cid):
        unit = "cri-containerd-%s.scope" % id_
        expect(unit, "active", sh("systemctl is-active " + unit))
        expect(unit + " ControlGroup", "/%s/%s" % (SLICE, unit), prop(unit, "ControlGroup"))
    unit = "cri-containerd-%s.scope" % cid
    state["unit"] = unit
    state["cg"] = "/sys/fs/cgroup/%s/%s" % (SLICE, unit)
    expect("MemoryMax", str(64 * MIB), prop(unit, "MemoryMax"))
    expect("memory.max", str(64 * MIB), sh("cat %s/memory.max" % state["cg"]))
    expect("cpu.max", "20000 100000", sh("cat %s/cpu.max" % state["cg"]))
    status = call("ContainerStatus", s(1, cid))[1][0]
    expect("state (CONTAINER_RUNNING)", [1], fields(status).get(3))


def cri_exec():
    r = call("ExecSync", s(1, state["cid"]) + s(2, "sh") + s(2, "-c") + s(2, "echo out; exit 7") + i(3, 60))
    expect("stdout", b"out\n", r.get(1, [b""])[0])
    expect("exit code", 7, r.get(3, [0])[0])


def cri_update():
    call("UpdateContainerResources", s(1, state["cid"]) + m(2, i(4, 96 * MIB)))
    expect("memory.max", str(96 * MIB), sh("cat %s/memory.max" % state["cg"]))
    expect("MemoryMax", str(96 * MIB), prop(state["unit"], "MemoryMax"))


def cri_cleanup():
    call("StopContainer", s(1, state["cid"]) + i(2, 2))
    call("RemoveContainer", s(1, state["cid"]))
    call("StopPodSandbox", s(1, state["pod"]))
    call("RemovePodSandbox", s(1, state["pod"]))
    for id_ in (state["pod"], state["cid"]):
        unit = "cri-containerd-%s.scope" % id_

        def gone():
            return prop(unit, "LoadState") == "not-found" and sh(
                "test -d /sys/fs/cgroup/%s/%s || echo gone" % (SLICE, unit)
            ) == "gone"

        if not until(gone, 10):
            raise AssertionError("%s left: %s" % (unit, prop(unit, "ActiveState")))
    left = [p for p in os.listdir("/proc") if p.isdigit() and b"1000000" in cmdline(p)]
    expect("processes left", [], left)


step("cri_pod", cri_pod)
if "cid" in state:
    step("cri_exec", cri_exec)
    step("cri_update", cri_update)
step("cri_cleanup", cri_cleanup)
sys.exit(0)
