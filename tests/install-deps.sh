#!/usr/bin/env bash
# What the test suite needs on a fresh Debian 12, as root. README's test
# command and .ci/run both start with this script: one list, one place.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
apt-get -o DPkg::Lock::Timeout=600 update -q
# busybox-static: the test rootfs; runc, crun: reference runtimes the harness
# and benches compare with; podman, containerd, socat, uidmap: engine
# end-to-end tests; iproute2, procps, psmisc, util-linux: inspection in tests;
# build-essential, pkg-config, libseccomp-dev: building runoci;
# qemu-system-x86, linux-image-amd64: the pure cgroup v2 VM test
# (tests/tests/cgroups_v2_vm.rs boots Debian's kernel under qemu TCG);
# mmdebstrap, e2fsprogs: the systemd VM's Debian image
# (tests/tests/systemd_cgroup_vm.rs, built once into a cache);
# dpkg-dev (dpkg-shlibdeps), man-db: the Debian package check in .ci/run;
# criu: checkpoint/restore (criu_host.rs; the VM test copies it in);
# containernetworking-plugins (bridge, host-local, loopback), protobuf-compiler
# (k8s-cri's generated CRI client): pods through CRI (cri_containerd.rs).
apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends \
    busybox-static runc crun podman containerd socat iproute2 procps psmisc \
    util-linux uidmap ca-certificates build-essential pkg-config libseccomp-dev \
    qemu-system-x86 linux-image-amd64 mmdebstrap e2fsprogs dpkg-dev man-db bash \
    containernetworking-plugins protobuf-compiler criu </dev/null
