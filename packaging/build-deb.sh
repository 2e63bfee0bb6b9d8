#!/usr/bin/env bash
# Builds the Debian package of runoci from this workspace, without
# cargo-deb: release binaries, man pages and completions generated from
# the clap definitions (runoci-gen), staged under a temporary root and
# packed with dpkg-deb.
#
#   packaging/build-deb.sh [OUT_DIR]      (default OUT_DIR: $CARGO_TARGET_DIR/debian)
#
# Prints the path of the .deb on its last line. Needs cargo, dpkg-deb, and
# dpkg-shlibdeps (dpkg-dev) for Depends (else a hand-written list is used).
set -euo pipefail
cd "$(dirname "$0")/.."
ws=$PWD
target=${CARGO_TARGET_DIR:-$ws/target}
out=${1:-$target/debian}
mkdir -p "$out"
out=$(cd "$out" && pwd)

if [ -z "${RUNOCI_DEB_NO_BUILD:-}" ]; then
    cargo build --release -p runoci -p runoci-monitor -p runoci-gen >&2
fi
# .cargo/config.toml names the host's triple as the build target.
rel=$target/$(rustc -vV | sed -n 's/^host: //p')/release
for b in runoci runoci-monitor runoci-gen; do
    [ -x "$rel/$b" ] || { echo "build-deb: $rel/$b missing" >&2; exit 1; }
done

version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n1)
arch=$(dpkg --print-architecture)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
stage=$work/root
gen=$work/gen

install -D -m 0755 "$rel/runoci" "$stage/usr/bin/runoci"
install -D -m 0755 "$rel/runoci-monitor" "$stage/usr/bin/runoci-monitor"

"$rel/runoci-gen" "$gen" >/dev/null
install -d "$stage/usr/share/man/man8"
for page in "$gen"/man/*.8; do
    gzip -9n <"$page" >"$stage/usr/share/man/man8/$(basename "$page").gz"
done
install -D -m 0644 "$gen/completions/runoci.bash" "$stage/usr/share/bash-completion/completions/runoci"
# Debian's zsh reads vendor completions here (its site-functions directory
# is /usr/local's).
install -D -m 0644 "$gen/completions/_runoci" "$stage/usr/share/zsh/vendor-completions/_runoci"
install -D -m 0644 "$gen/completions/runoci.fish" "$stage/usr/share/fish/vendor_completions.d/runoci.fish"

install -D -m 0644 packaging/tmpfiles.d/runoci.conf "$stage/usr/lib/tmpfiles.d/runoci.conf"
install -D -m 0644 packaging/systemd/runoci@.service "$stage/usr/lib/systemd/system/runoci@.service"
doc=$stage/usr/share/doc/runoci
install -D -m 0644 README.md "$doc/README.md"
install -D -m 0644 packaging/debian/copyright "$doc/copyright"
install -d "$doc/examples"
install -m 0644 packaging/engines/* "$doc/examples/"

# Depends from the ELF files' needs, as debhelper would: none for the
# static binaries .cargo/config.toml builds (libc and libseccomp are linked
# in); a dynamic build (another config) needs libc6 and libseccomp2.
depends="libc6 (>= 2.34), libseccomp2 (>= 2.5.0)"
if command -v dpkg-shlibdeps >/dev/null 2>&1; then
    mkdir -p "$work/src/debian"
    printf 'Source: runoci\n\nPackage: runoci\nArchitecture: any\n' >"$work/src/debian/control"
    if found=$(cd "$work/src" && dpkg-shlibdeps -O -e"$stage/usr/bin/runoci" -e"$stage/usr/bin/runoci-monitor" 2>/dev/null); then
        depends=${found#shlibs:Depends=}
    fi
fi

size=$(du -sk --exclude=DEBIAN "$stage" | cut -f1)
install -d "$stage/DEBIAN"
sed -e "s/@VERSION@/$version/" -e "s/@ARCH@/$arch/" -e "s/@SIZE@/$size/" \
    -e "s/@DEPENDS@/$depends/" -e '/^Depends: $/d' packaging/debian/control.in >"$stage/DEBIAN/control"
install -m 0755 packaging/debian/postinst "$stage/DEBIAN/postinst"

deb=$out/runoci_${version}_${arch}.deb
dpkg-deb --root-owner-group -Zxz --build "$stage" "$deb" >&2
echo "$deb"
