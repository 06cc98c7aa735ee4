#!/usr/bin/env bash
# Build the emulated Raspberry Pi: an arm64 Debian rootfs with python3, openssh-server and the
# aarch64 wheels of numpy, onnxruntime and ai-edge-litert, packed as a tarball in a cache OUTSIDE
# the checkout. tests/integration/test_pi_qemu.py unpacks it, runs sshd inside it through
# qemu-user-static (binfmt) and measures a tiny model over SSH on "aarch64".
#
#   scripts/build_pi_rootfs.sh            # prints the tarball path; builds it only when missing
#   scripts/build_pi_rootfs.sh --force    # rebuild
#
# Needs root, debootstrap, qemu-user-static and binfmt-support (apt-get install …), network access
# to the Debian mirror and PyPI. Cache dir: $EDGEBENCH_CACHE or /var/cache/edgebench.
set -euo pipefail

CACHE="${EDGEBENCH_CACHE:-/var/cache/edgebench}"
OUT="$CACHE/pi-rootfs.tar.gz"
WHEELS="$CACHE/pi-wheels"
SUITE="${PI_SUITE:-bookworm}"
MIRROR="${PI_MIRROR:-http://deb.debian.org/debian}"
PYVER="${PI_PYTHON_VERSION:-3.11}"   # bookworm's python3; the wheels must match it
PIP="${PIP:-$(dirname "$0")/../.venv/bin/pip}"
[ -x "$PIP" ] || PIP="python3 -m pip"
PACKAGES=(numpy onnxruntime ai-edge-litert)
PLATFORMS=(--platform manylinux_2_27_aarch64 --platform manylinux_2_28_aarch64
           --platform manylinux2014_aarch64 --only-binary=:all: --python-version "$PYVER"
           --implementation cp)

if [ -s "$OUT" ] && [ "${1:-}" != "--force" ]; then
  echo "$OUT"
  exit 0
fi

die() { echo "build_pi_rootfs: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "must run as root (debootstrap, chroot)"
command -v debootstrap >/dev/null || die "debootstrap missing: apt-get install debootstrap"
[ -x /usr/bin/qemu-aarch64-static ] || die "qemu-user-static missing: apt-get install qemu-user-static"

# binfmt: the kernel must hand aarch64 ELF files to qemu, also inside the chroot (flag F).
if [ ! -e /proc/sys/fs/binfmt_misc/status ]; then
  mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc || die "cannot mount binfmt_misc"
fi
if [ ! -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]; then
  command -v update-binfmts >/dev/null || die "binfmt-support missing: apt-get install binfmt-support"
  update-binfmts --enable qemu-aarch64 || die "cannot register qemu-aarch64 with binfmt_misc"
fi

mkdir -p "$CACHE" "$WHEELS"
WORK="$(mktemp -d "$CACHE/build.XXXXXX")"
ROOT="$WORK/rootfs"
trap 'umount -l "$ROOT/proc" 2>/dev/null || true; rm -rf "$WORK"' EXIT

# Wheels first: cheap, and a missing aarch64 wheel should fail before the long debootstrap.
echo "build_pi_rootfs: downloading aarch64 wheels for python $PYVER into $WHEELS" >&2
$PIP download -q -d "$WHEELS" "${PLATFORMS[@]}" "${PACKAGES[@]}"

echo "build_pi_rootfs: debootstrap --arch=arm64 $SUITE (several minutes under qemu)" >&2
debootstrap --arch=arm64 --variant=minbase \
  --include=python3,openssh-server,ca-certificates,procps \
  "$SUITE" "$ROOT" "$MIRROR" >"$WORK/debootstrap.log" 2>&1 \
  || { tail -30 "$WORK/debootstrap.log" >&2; die "debootstrap failed (log above)"; }

rootpy="$(chroot "$ROOT" /usr/bin/python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
[ "$rootpy" = "$PYVER" ] || die "rootfs python is $rootpy, wheels are for $PYVER: set PI_PYTHON_VERSION=$rootpy"

# Installed by the host's pip into the rootfs: the same wheels a user installs on a real Pi with
#   pip install --only-binary=:all: numpy onnxruntime ai-edge-litert
echo "build_pi_rootfs: installing ${PACKAGES[*]} into the rootfs" >&2
$PIP install -q --no-index --find-links "$WHEELS" --target "$ROOT/usr/local/lib/python$PYVER/dist-packages" \
  "${PLATFORMS[@]}" "${PACKAGES[@]}"

# Emulated userland check: both runtimes import on aarch64 (without /sys, see test_pi_qemu.py).
mount -t proc proc "$ROOT/proc"
chroot "$ROOT" /usr/bin/python3 -c \
  'import platform, numpy, onnxruntime, ai_edge_litert.interpreter; assert platform.machine() == "aarch64"' \
  || die "runtimes do not import inside the rootfs"
umount -l "$ROOT/proc"

mkdir -p "$ROOT/run/sshd" "$ROOT/root/.ssh"
chmod 700 "$ROOT/root/.ssh"
rm -f "$ROOT"/etc/ssh/ssh_host_*  # each test run generates its own host key
rm -rf "$ROOT"/var/cache/apt/archives/*.deb "$ROOT"/var/lib/apt/lists/*

tar -C "$ROOT" -czf "$OUT.tmp" .
mv "$OUT.tmp" "$OUT"
echo "$OUT"
