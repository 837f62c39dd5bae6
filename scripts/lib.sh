# SPDX-License-Identifier: GPL-2.0-or-later
#
# Common paths and helpers for the project's scripts. Sourced, never run.
#
# Everything downloaded or generated lives under $CACHE (default: .cache/ in
# the checkout, git-ignored).  Set SIDE_SEPT_CACHE to share one cache between
# checkouts.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${SIDE_SEPT_CACHE:-$ROOT/.cache}

QEMU_UPSTREAM_VERSION=10.2.2
QEMU_DEB_VERSION=1:10.2.2+ds-1
QEMU_ORIG_TARBALL=qemu_10.2.2+ds.orig.tar.xz
QEMU_ORIG_SHA256=be05230fe47a6937cd29f28f562932c8125f9c93c2a82c625198f7a4aa601dfb
MESON_MIN_VERSION=1.5
# The kernel side: Linux 7.2.13 from Debian's binary package linux-source-7.2.
LINUX_VERSION=7.2.13
LINUX_DEB_VERSION=7.2.13-1

DL=$CACHE/downloads          # .dsc, tarballs, .debs
APTDIR=$CACHE/apt            # private apt configuration and lists
PRISTINE=$CACHE/qemu-pristine  # Debian's source package, Debian patches applied
STAGING=$CACHE/qemu-staging    # pristine + our files + our patches (scratch)
TREE=$CACHE/qemu               # the materialised tree we build
BUILD=$CACHE/build             # QEMU build directory
SIMBUILD=$CACHE/tdxsim         # simulator build directory
FIRMWARE_DIR=$CACHE/firmware
TDVF=$FIRMWARE_DIR/usr/share/ovmf/OVMF.inteltdx.ms.fd
QEMU_BIN=$BUILD/qemu-system-x86_64
LINUX_PRISTINE=$CACHE/linux-pristine   # Linux 7.2.13 as Debian ships it

export CCACHE_DIR=${CCACHE_DIR:-$HOME/.cache/ccache}
# Let ccache hit across checkouts in different directories.
export CCACHE_BASEDIR=$CACHE
export CCACHE_NOHASHDIR=1

log() { printf '== %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# apt options selecting the private configuration written by scripts/setup.
apt_private_opts() {
    echo "-o Dir::Etc::SourceList=/dev/null -o Dir::Etc::SourceParts=$APTDIR/sources.list.d" \
         "-o Dir::State::Lists=$APTDIR/lists -o Dir::Cache::archives=$APTDIR/archives" \
         "-o APT::Get::List-Cleanup=0 -o APT::Sandbox::User=root"
}

# What configure and the build leave in the source tree: never compared,
# copied or deleted when materialising.
RSYNC_EXCLUDES=(--exclude=__pycache__ --exclude=/subprojects/.wraplock
    --exclude=/subprojects/packagecache --exclude=/.complete)
