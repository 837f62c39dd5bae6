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

# Background children that must not outlive the script.  spawn runs a
# command in the background in a process group (and session) of its own,
# so that ending it ends whatever it started too (a --wrapper, QEMU's
# helpers); end_groups ends such groups and reaps them; trap_children makes
# SIGINT, SIGTERM, SIGHUP and the script's exit end every spawned group.
CHILDREN=()
spawn() {
    setsid "$@" &
    SPAWNED=$!
    CHILDREN+=("$SPAWNED")
}

# The process PID exists and is no zombie.
_running() {
    local st
    { read -r st <"/proc/$1/stat"; } 2>/dev/null || return 1
    st=${st##*) }
    [ "${st%% *}" != Z ]
}

# end_groups GRACE PID...: SIGTERM to the process group of each PID (a
# spawn), SIGKILL to whatever is left of them after GRACE seconds, then
# wait for each PID; REAPED_RC is the last one's exit status.
end_groups() {
    local end=$((SECONDS + $1)) pid alive left=()
    shift
    for pid; do kill -TERM -- "-$pid" 2>/dev/null || true; done
    while [ $SECONDS -lt $end ]; do
        alive=0
        for pid; do ! _running "$pid" || alive=1; done
        [ $alive = 1 ] || break
        sleep 0.1
    done
    for pid; do kill -KILL -- "-$pid" 2>/dev/null || true; done
    for pid; do REAPED_RC=0; wait "$pid" 2>/dev/null || REAPED_RC=$?; done
    for pid in "${CHILDREN[@]}"; do
        [[ " $* " == *" $pid "* ]] || left+=("$pid")
    done
    CHILDREN=("${left[@]}")
}

# trap_children [COMMAND]: on exit, end every spawned group (then run
# COMMAND); on SIGINT, SIGTERM or SIGHUP, say so and exit 128+N.
# shellcheck disable=SC2064  # the traps' words are expanded now on purpose
trap_children() {
    local sig
    trap "[ \${#CHILDREN[@]} = 0 ] || end_groups 5 \"\${CHILDREN[@]}\"; ${1:-}" EXIT
    for sig in INT TERM HUP; do trap "_interrupted $sig" "$sig"; done
}
_interrupted() {
    trap '' INT TERM HUP
    if [ ${#CHILDREN[@]} -gt 0 ]; then
        printf '%s: interrupted (SIG%s): ending QEMU and its helpers\n' "${0##*/}" "$1" >&2
        end_groups 5 "${CHILDREN[@]}"
    fi
    exit $((128 + $(kill -l "$1")))
}

# run_watched SOCKET SECONDS LOG QEMU-COMMAND...: run a QEMU command line
# (environment through env(1), any wrapper, then QEMU and its arguments)
# with its output in LOG, and watch it through a monitor socket at SOCKET:
# when QEMU stops the VM for good (internal error, guest panic, I/O
# error, a shutdown kept by -no-shutdown, a watchdog, a pause) or after
# SECONDS, QEMU is ended (SIGTERM, so that the simulator still writes its
# report; SIGKILL after 30 s).  Sets QEMU_RC (QEMU's exit status) and
# QEMU_STOP ("" if QEMU ended by itself, else the run state QEMU stopped
# the VM in, or "timeout" and the last state seen).  QEMU dies with the
# script even when that is killed (-run-with exit-with-parent=on).
run_watched() {
    local sock=$1 limit=$2 log=$3 qpid wpid done_pid rc=0
    shift 3
    rm -f "$sock" "$sock.state"
    spawn "$@" -monitor "unix:$sock,server=on,wait=off" -run-with exit-with-parent=on \
        </dev/null >"$log" 2>&1
    qpid=$SPAWNED
    spawn /usr/bin/python3 -c "$MONITOR_WATCH_PY" "$sock" "$limit" "$sock.state" </dev/null
    wpid=$SPAWNED
    wait -n -p done_pid "$qpid" "$wpid" || rc=$?
    QEMU_STOP=
    if [ "$done_pid" = "$wpid" ] && [ -s "$sock.state" ]; then
        QEMU_STOP=$(cat "$sock.state")
        end_groups 30 "$qpid"
        rc=$REAPED_RC
    elif [ "$done_pid" = "$wpid" ]; then
        printf 'warning: the monitor watcher of %s failed (status %s); waiting for QEMU\n' "$sock" "$rc" >&2
        rc=0; wait "$qpid" || rc=$?
        end_groups 0 "$qpid"
    else
        end_groups 0 "$qpid"
    fi
    end_groups 1 "$wpid"
    QEMU_RC=$rc
}

# The lines QEMU (and the simulator) wrote to LOG, without CPU register
# dumps: what QEMU said when it stopped the VM.
qemu_said() {
    { grep -Ev '^([A-Z][A-Za-z0-9 ]*=|$)' "$1" | grep -v 'terminating on signal' |
          tail -n "${2:-15}"; } || true
}

# The watcher of run_watched: SOCKET SECONDS STATE-FILE.  Asks QEMU's
# human monitor "info status" twice a second, one question at a time;
# exits 3 with the run state in STATE-FILE when QEMU has stopped the VM
# for good, 4 with "timeout STATE" after SECONDS.  Not QMP: QEMU 10.2.2
# hangs at exit in monitor_cleanup() when a QMP command comes in while
# it is exiting (the command's coroutine is scheduled in the iohandler
# context, which nothing polls any more); the human monitor's input is
# simply no longer read then.
MONITOR_WATCH_PY='
import ctypes, os, re, select, socket, sys, time
ctypes.CDLL(None).prctl(1, 15)      # PR_SET_PDEATHSIG SIGTERM: die with the script
path, limit, out = sys.argv[1], float(sys.argv[2]), sys.argv[3]
STOPPED = {"internal-error", "io-error", "guest-panicked", "shutdown",
           "watchdog", "paused"}
STATUS = re.compile(rb"VM status: (running|paused)(?: \(([a-z-]+)\))?")
deadline = time.monotonic() + limit
state = "not started"

def finish(code, text):
    with open(out + ".tmp", "w") as f:
        f.write(text + "\n")
    os.rename(out + ".tmp", out)
    sys.exit(code)

def left():
    t = deadline - time.monotonic()
    if t <= 0:
        finish(4, "timeout " + state)
    return t

sock = None
while sock is None:
    left()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(path)
    except OSError:
        sock.close()
        sock = None
        time.sleep(0.05)

def ended():                # QEMU closed the monitor: only the time limit is left
    sock.close()
    while True:
        time.sleep(min(left(), 1))

buf = b""
ready = False               # QEMU showed its prompt: it reads the monitor
asked = False               # a question is out: no other until answered
next_ask = 0.0
while True:
    wait = left()
    if ready and not asked:
        wait = min(wait, max(0.0, next_ask - time.monotonic()))
    if select.select([sock], [], [], wait)[0]:
        try:
            data = sock.recv(65536)
        except OSError:     # reset: QEMU left a question unread
            data = b""
        if not data:        # QEMU closed the monitor: it is ending
            ended()
        ready = ready or b"(qemu)" in data
        *lines, buf = (buf + data).split(b"\n")
        buf = buf[-4096:]
        for line in lines:
            m = STATUS.search(line)
            if m:
                state = (m.group(2) or m.group(1)).decode()
                asked = False
                if state in STOPPED:
                    finish(3, state)
    if ready and not asked and time.monotonic() >= next_ask:
        try:
            sock.sendall(b"info status\n")
        except OSError:
            ended()
        asked = True
        next_ask = time.monotonic() + 0.5
'
