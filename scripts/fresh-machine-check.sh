#!/usr/bin/env bash
# Proves README.md's two commands on a fresh Debian 12 machine: builds a clean root with
# `debootstrap --variant=minbase bookworm`, puts the committed tree in (git archive HEAD, so
# untracked or ignored files cannot help) with ../shared/fixtures beside it read-only, and runs inside
# it, exactly as README.md writes them (taken from between its fresh-machine marker comments):
#   1. the setup command (install, build, demo), then checks the demo's outputs;
#   2. the test command, then checks that CTest reported every test passed.
# Run as root (CI does). Leaves nothing behind in /tmp but the log it names; every mount it made
# is undone on every exit path.
#   scripts/fresh-machine-check.sh [--keep-root DIR]   (--keep-root: build the root in DIR and keep it)
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)
# The reference fixtures: ../shared/fixtures (or $LSC_FIXTURES), seen inside at the same place.
FIXTURES=$(cd "${LSC_FIXTURES:-$REPO/../shared/fixtures}" 2>/dev/null && pwd) || FIXTURES=""
LOG=/tmp/logitscope-fresh-machine-check.log
KEEP=""
[[ "${1:-}" == "--keep-root" ]] && KEEP=${2:?--keep-root DIR}
: >"$LOG"
t0=$(date +%s)
say() { echo "fresh-machine-check: $* ($(( $(date +%s) - t0 )) s)" | tee -a "$LOG"; }
fail() {
  echo "fresh-machine-check: FAILED: $*" >&2
  echo "fresh-machine-check: last lines of $LOG:" >&2
  tail -n 40 "$LOG" >&2
  exit 1
}

[[ $(id -u) -eq 0 ]] || fail "must run as root (debootstrap, chroot and mount need it)"
command -v debootstrap >/dev/null || fail "debootstrap is missing: bash scripts/install-deps.sh installs it"
[[ -n "$FIXTURES" ]] || fail "${LSC_FIXTURES:-../shared/fixtures} not found (the tests' reference fixtures)"

# The two commands, from README.md: the line after ``` following each marker comment.
readme_command() {
  awk -v m="<!-- fresh-machine: $1 -->" '$0 == m {f = 1; next} f && /^```/ {if (g) exit; g = 1; next} f && g {print; exit}' README.md
}
SETUP_CMD=$(readme_command setup)
TEST_CMD=$(readme_command test)
[[ -n "$SETUP_CMD" ]] || fail "README.md: no command after <!-- fresh-machine: setup -->"
[[ -n "$TEST_CMD" ]] || fail "README.md: no command after <!-- fresh-machine: test -->"

# The Debian mirror this machine's own apt sources name (never written into the repository).
mirror_from_sources() {
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [[ -f "$f" ]] || continue
    # deb822 stanzas: the URIs of the first stanza whose Suites include bookworm itself.
    awk 'BEGIN {RS = ""} /(^|\n)Suites:[^\n]*[ \t]bookworm([ \t]|\n|$)/ {
           if (match($0, /(^|\n)URIs:[ \t]*[^ \t\n]+/)) {s = substr($0, RSTART, RLENGTH); sub(/.*URIs:[ \t]*/, "", s); print s; exit}}' "$f"
  done
  [[ -f /etc/apt/sources.list ]] && awk '$1 == "deb" && $0 ~ /[ \t]bookworm[ \t]/ {for (i = 2; i <= NF; ++i) if ($i ~ /^[a-z]+:\/\//) {print $i; exit}}' /etc/apt/sources.list
  return 0
}
MIRROR=$(mirror_from_sources | head -n 1)
[[ -n "$MIRROR" ]] || fail "no bookworm mirror found in /etc/apt/sources.list.d/*.sources or /etc/apt/sources.list"

if [[ -n "$KEEP" ]]; then
  mkdir -p "$KEEP"
  WORK=$(cd "$KEEP" && pwd)
else
  WORK=$(mktemp -d /tmp/logitscope-fresh-root.XXXXXX)
fi
ROOT=$WORK/root
MOUNTS=()
CHILD=""
cleanup() {
  local rc=$? i
  set +e
  # The long step in flight (its own process group: debootstrap, or a command inside the root).
  [[ -n "$CHILD" ]] && kill -KILL -- "-$CHILD" 2>/dev/null
  # Everything still running inside the root (a build killed by Ctrl-C) holds its mounts.
  for p in /proc/[0-9]*; do
    [[ "$(readlink "$p/root" 2>/dev/null)" == "$ROOT" ]] && kill -9 "${p#/proc/}" 2>/dev/null
  done
  for (( i = ${#MOUNTS[@]} - 1; i >= 0; --i )); do
    umount "${MOUNTS[i]}" 2>/dev/null || umount -l "${MOUNTS[i]}"
  done
  if [[ -z "$KEEP" && -d "$WORK" ]]; then
    # Only once nothing is mounted below it: never delete through the bind mount of the fixtures.
    if ! grep -q " $WORK/" /proc/mounts; then rm -rf "$WORK"; else echo "fresh-machine-check: $WORK still has mounts; left in place" >&2; fi
  fi
  [[ $rc -eq 0 ]] || echo "fresh-machine-check: exit $rc; log: $LOG" >&2
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
# Long steps run in their own process group, in the background, and are waited for: bash runs a
# trap only once the foreground command ends, but `wait` returns at once on a trapped signal, so
# Ctrl-C or a job scheduler's SIGTERM stops the check now, and cleanup kills the group.
run_step() {  # run_step COMMAND...: its status
  setsid -w "$@" >>"$LOG" 2>&1 </dev/null &
  CHILD=$!
  local rc=0
  wait "$CHILD" || rc=$?
  CHILD=""
  return "$rc"
}
mount_in() {  # mount_in TARGET mount-args...
  local target=$1
  shift
  mkdir -p "$target"
  mount "$@" "$target"
  MOUNTS+=("$target")
}

say "debootstrap --variant=minbase bookworm from the mirror of this machine's apt sources"
mkdir -p "$ROOT"
run_step debootstrap --variant=minbase bookworm "$ROOT" "$MIRROR" || fail "debootstrap (see $LOG)"
# mktemp made the folder 0700; inside the chroot it is /, and tests run commands as 'nobody'.
chmod 0755 "$WORK" "$ROOT"

# What a machine on this network needs before it installs anything: the same apt sources and
# settings (updates and security suites), name resolution, and the network's extra CA
# certificates (a TLS-inspecting proxy: without them npm fails with SELF_SIGNED_CERT_IN_CHAIN).
cp /etc/resolv.conf "$ROOT/etc/resolv.conf"
if compgen -G "/etc/apt/sources.list.d/*.sources" >/dev/null; then
  cp /etc/apt/sources.list.d/*.sources "$ROOT/etc/apt/sources.list.d/"
  rm -f "$ROOT/etc/apt/sources.list"
fi
[[ -f /etc/apt/sources.list ]] && cp /etc/apt/sources.list "$ROOT/etc/apt/sources.list"
compgen -G "/etc/apt/apt.conf.d/*" >/dev/null && cp -n /etc/apt/apt.conf.d/* "$ROOT/etc/apt/apt.conf.d/" 2>/dev/null || true
mkdir -p "$ROOT/usr/local/share/ca-certificates"
compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null && cp /usr/local/share/ca-certificates/*.crt "$ROOT/usr/local/share/ca-certificates/"
# npm's own settings of this machine (its registry and CA file), as a user's machine has them.
for f in /usr/etc/npmrc /etc/npmrc; do
  [[ -f "$f" ]] && mkdir -p "$ROOT$(dirname "$f")" && cp "$f" "$ROOT$f"
done

say "the committed tree (git archive HEAD) into /work/main, the fixtures read-only at /work/shared/fixtures"
mkdir -p "$ROOT/work/main"
git -C "$REPO" archive HEAD | tar -x -C "$ROOT/work/main"
mount_in "$ROOT/work/shared/fixtures" --bind "$FIXTURES"
mount -o remount,bind,ro "$ROOT/work/shared/fixtures"
mount_in "$ROOT/proc" -t proc proc
mount_in "$ROOT/dev" --bind /dev
mount_in "$ROOT/dev/shm" -t tmpfs -o mode=1777 tmpfs   # POSIX shared memory (Open MPI)
mount_in "$ROOT/dev/pts" -t devpts -o newinstance,ptmxmode=0666 devpts

# A login-like environment inside the root: nothing of this machine's environment leaks in.
IN_ROOT=(chroot "$ROOT" /usr/bin/env -i HOME=/root USER=root LOGNAME=root LANG=C.UTF-8 TERM=dumb
         PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin /bin/bash -c)

say "README setup command: $SETUP_CMD"
run_step "${IN_ROOT[@]}" "cd /work/main && $SETUP_CMD" || fail "README setup command: $SETUP_CMD"
say "checking the demo's outputs"
for f in results.sqlite report.html stats.json; do
  [[ -s "$ROOT/work/main/demo-results/$f" ]] || fail "the demo wrote no demo-results/$f"
done
# Read on this machine (the clean root has no sqlite3 shell), from the root's file.
done_texts=$(python3 -c 'import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT count(*) FROM done").fetchone()[0])' \
             "$ROOT/work/main/demo-results/results.sqlite" 2>>"$LOG") || true
[[ "$done_texts" == "60" ]] || fail "demo-results/results.sqlite: expected 60 finished texts, found '${done_texts}'"
say "demo: 60 finished texts, report.html and stats.json written"

say "README test command: $TEST_CMD"
run_step "${IN_ROOT[@]}" "cd /work/main && $TEST_CMD" || fail "README test command: $TEST_CMD"
grep -Eq "^100% tests passed, 0 tests failed out of [1-9][0-9]*" "$LOG" || fail "the test command exited 0 but CTest did not report all tests passed"
say "$(grep -E '^100% tests passed' "$LOG" | tail -n 1)"
say "passed: both README commands work on a clean Debian 12 root (log: $LOG)"
