#!/bin/bash
# kernel-init.sh - PID 1 of the User-Mode Linux guest booted by
# scripts/kernel-harness.sh.  Not meant to be run by hand.
#
# The harness copies this file into its per-run directory on the host
# filesystem (/tmp/canbridge-kernel.XXXXXX, seen identically in the guest
# because the guest's root is the host's / through hostfs) and boots
#   linux.uml ... init=<run dir>/init CANBRIDGE_RUN_DIR=<run dir>
# The kernel hands unknown "name=value" boot parameters to init as
# environment variables, which is how CANBRIDGE_RUN_DIR arrives.
#
# The run directory holds what the harness prepared:
#   config    shell assignments (%q-quoted): command, cwd, uid, interfaces...
#   env       "export NAME=value" lines restoring the caller's environment
#   modroot/  lib/modules/<version> -> /usr/lib/uml/modules/<version>
#   modprobe  wrapper: modprobe -d <run dir>/modroot "$@"
# and receives what this script reports back:
#   started   wall-clock time the command was started (guest clock = host clock)
#   status    the command's exit status; written last, its absence means the
#             guest died before the command finished
#
# Guest consoles (set up by the harness on the UML command line):
#   /dev/console = tty0 -> kernel messages and this script's own output,
#                          kept in <run dir>/kernel.log
#   /dev/tty1            -> the caller's stdout
#   /dev/tty2            -> the caller's stderr
#
# No "set -e": PID 1 must never exit (that panics the kernel); every failure
# is reported and ends in finish(), which powers the guest off.
set -uo pipefail
# --verbose: trace every step with a timestamp into the kernel log.
[[ ${CANBRIDGE_TRACE:-0} == 1 ]] && PS4='+ ${EPOCHREALTIME} ' && set -x

export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
run=${CANBRIDGE_RUN_DIR:-}

# ---------------------------------------------------------------------------
say() {  # progress line on the caller's stderr (unless --quiet)
	[[ ${CB_QUIET:-0} == 1 ]] && return 0
	printf 'kernel-harness: [uml] %s\n' "$*" >/dev/tty2 2>/dev/null || true
}

power_off() {
	# halt -f / poweroff -f call reboot(2) directly; on Debian they are
	# systemctl, which handles -f without a running systemd.  Magic SysRq
	# is the fallback when neither exists.
	halt -f >/dev/null 2>&1 || poweroff -f >/dev/null 2>&1 ||
		echo o >/proc/sysrq-trigger
	sleep 10   # reboot(2) does not return; never fall off the end
}

finish() {  # finish STATUS - hand STATUS to the harness and power off
	# The harness reads it only after UML has exited.  hostfs writes
	# through to the host; sync is cheap insurance before the hard stop.
	if [[ -n $run ]]; then
		printf '%s\n' "$1" >"$run/status"
		sync "$run/status" 2>/dev/null || sync
	fi
	power_off
}

fail() {  # setup failure: tell the caller (stderr) and stop with status 125
	printf 'kernel-harness: [uml] error: %s\n' "$*" >/dev/tty2 2>/dev/null
	printf 'kernel-harness: [uml] error: %s\n' "$*"   # also into kernel.log
	finish 125
}

# ---------------------------------------------------------------------------
# Filesystems.  The root is the host's / (hostfs, read-write).  Everything
# mounted here exists only in the guest, so nothing below leaks onto the
# host:
#   /proc, /sys         the guest's own
#   /dev                devtmpfs (the kernel mounts it; done here if not)
#   /dev/pts, /dev/shm  devpts and a tmpfs (POSIX shm, semaphores)
#   /run                tmpfs, so `ip netns add` (which creates and bind-
#                       mounts /run/netns/NAME), lock files and pid files stay
#                       in the guest.  A host file left behind by a guest that
#                       was killed would break the next `ip netns add`.
# /tmp is deliberately NOT replaced: it is the host's /tmp, so tools and
# scratch files the caller keeps there (and this run directory) are visible,
# and files the command writes there are visible to the host afterwards.
# (Each fork+exec costs ~25 ms under UML, so steps are batched where easy.)
mount -t proc proc /proc 2>/dev/null
[[ -r /proc/mounts ]] || { echo "cannot mount /proc"; power_off; }
mounts=$(</proc/mounts)
mounted() { [[ $'\n'$mounts == *$'\n'*" $1 "* ]]; }
mounted /sys || mount -t sysfs sysfs /sys
mounted /dev || mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
mounted /dev/pts || mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts /dev/pts
mounted /dev/shm || mount -t tmpfs -o mode=1777,nosuid,nodev shm /dev/shm
# devtmpfs lacks these links; bash process substitution and /dev/stdin
# readers need them.
[[ -e /dev/fd ]] || ln -s /proc/self/fd /dev/fd
[[ -e /dev/stdin ]] || ln -s /proc/self/fd/0 /dev/stdin
[[ -e /dev/stdout ]] || ln -s /proc/self/fd/1 /dev/stdout
[[ -e /dev/stderr ]] || ln -s /proc/self/fd/2 /dev/stderr
mount -t tmpfs -o mode=755,nosuid,nodev run /run && mkdir -p /run/lock /run/netns

[[ -n $run && -r $run/config ]] || fail "no run directory (CANBRIDGE_RUN_DIR='$run'); start this through scripts/kernel-harness.sh"
# shellcheck source=/dev/null
source "$run/config" || fail "cannot read $run/config"

# Raw consoles: no "\n" -> "\r\n" translation (the host terminal, if any,
# does its own), no echo.  Rows/columns mirror the caller's terminal.  Keep
# both consoles open (fds 7, 8) until the end: UML resets a console's window
# size from its host fd (a pipe: 0x0) whenever the console is first opened.
exec 7>/dev/tty1 8>/dev/tty2
for t in /dev/tty1 /dev/tty2; do
	stty -F "$t" raw -echo 2>/dev/null || true
done
if [[ -n ${CB_TTY_SIZE:-} ]]; then
	stty -F /dev/tty1 rows "${CB_TTY_SIZE% *}" cols "${CB_TTY_SIZE#* }" 2>/dev/null || true
	stty -F /dev/tty2 rows "${CB_TTY_SIZE% *}" cols "${CB_TTY_SIZE#* }" 2>/dev/null || true
fi

echo canbridge-uml >/proc/sys/kernel/hostname

# ---------------------------------------------------------------------------
# Kernel modules.  The UML modules live in /usr/lib/uml/modules/<version>
# while modprobe looks in /lib/modules/<version> (the host's, wrong kernel):
# modprobe -d <run>/modroot resolves dependencies from modules.dep through
# the symlink the harness made.  Installing the harness's wrapper
# (<run>/modprobe = modprobe -d <run>/modroot) as the kernel's modprobe
# helper makes on-demand loading work too (tc qdisc types, veth,
# CAN protocols, ...).
modroot=$run/modroot
echo "$run/modprobe" >/proc/sys/kernel/modprobe ||
	fail "cannot install the modprobe helper"

# shellcheck disable=SC2086  # CB_MODULES is a space-separated word list
out=$(modprobe -d "$modroot" -a $CB_MODULES 2>&1) ||
	fail "modprobe failed: $out"
say "modules loaded: $CB_MODULES"

# lo and the vcan interfaces in one `ip -batch`.  Always set the MTU: vcan
# defaults to 72 (CAN FD capable), but without --fd the interface should
# behave like a classic CAN bus and refuse FD frames.  (mtu must come before
# "type": after it, it is a vcan option and silently ignored.)
mtu=16; [[ $CB_FD == 1 ]] && mtu=72
batch="link set lo up"$'\n'
for ifc in $CB_VCAN; do
	batch+="link add dev $ifc mtu $mtu type vcan"$'\n'"link set dev $ifc up"$'\n'
done
out=$(ip -batch - <<<"$batch" 2>&1) || fail "setting up lo/vcan failed: $out"
[[ -n $CB_VCAN ]] && say "vcan up: $CB_VCAN (mtu $mtu)"

for kv in ${CB_SYSCTLS:-}; do
	key=${kv%%=*}
	printf '%s\n' "${kv#*=}" >"/proc/sys/${key//.//}" || fail "cannot set sysctl $kv"
done

# ---------------------------------------------------------------------------
# The command's stdio.  stdin is /dev/null (the caller's stdin is not
# forwarded).  If the caller's stdout/stderr is a terminal, the command gets
# a guest terminal too; otherwise it gets a pipe (a FIFO drained by cat into
# the console), so isatty() answers as it would on the host and programs
# that only colour or buffer for terminals behave the same.
out_to=/dev/tty1 err_to=/dev/tty2 pumps=()
if [[ $CB_STDOUT_TTY != 1 || $CB_STDERR_TTY != 1 ]]; then
	mkfifo -m 600 /run/canbridge-stdout /run/canbridge-stderr || fail "mkfifo failed"
fi
if [[ $CB_STDOUT_TTY != 1 ]]; then
	cat /run/canbridge-stdout >/dev/tty1 &
	pumps+=($!) out_to=/run/canbridge-stdout
fi
if [[ $CB_STDERR_TTY != 1 ]]; then
	cat /run/canbridge-stderr >/dev/tty2 &
	pumps+=($!) err_to=/run/canbridge-stderr
fi

# Run as the caller's user (root stays root).  setpriv keeps the
# environment untouched.
as_user=()
if [[ $CB_UID != 0 ]]; then
	as_user=(setpriv --reuid="$CB_UID" --regid="$CB_GID" --groups="$CB_GROUPS" --)
fi

printf '%s\n' "${EPOCHREALTIME/,/.}" >"$run/started"
(
	# A clean environment: only what the harness chose to pass through.
	{ set +x; } 2>/dev/null   # --verbose trace: never print the values
	for v in $(compgen -e); do unset "$v" 2>/dev/null; done
	# shellcheck source=/dev/null
	source "$run/env"
	export CANBRIDGE_KERNEL=uml CANBRIDGE_VCAN=${CB_VCAN// /,} CANBRIDGE_VCAN_FD=$CB_FD
	exec 7>&- 8>&-   # the init's console handles stay private
	cd "$CB_CWD" || { echo "kernel-harness: [uml] cannot cd to $CB_CWD" >&2; exit 125; }
	exec "${as_user[@]}" "${CB_CMD[@]}"
) </dev/null >"$out_to" 2>"$err_to"
status=$?

# Let the pumps copy what is left in the FIFOs.  They end when every writer
# has gone.  Processes the command left running in the background (they
# would die with the guest anyway) keep the FIFOs open: after a short grace
# period kill everything but PID 1, the pumps and kernel threads, so the run
# ends at once instead of hanging until --timeout.
pumps_alive() {
	local p
	for p in "${pumps[@]}"; do kill -0 "$p" 2>/dev/null && return 0; done
	return 1
}
for i in {1..40}; do   # sleep costs a fork+exec, ~25 ms here: ~0.3 s, then ~3 s
	pumps_alive || break
	if ((i == 5)); then
		for d in /proc/[0-9]*; do
			p=${d#/proc/}
			[[ $p == 1 || " ${pumps[*]} " == *" $p "* ]] && continue
			cmdline=
			read -r -d '' cmdline <"$d/cmdline" 2>/dev/null
			[[ -n $cmdline ]] || continue   # kernel thread (or already gone)
			kill -KILL "$p" 2>/dev/null
		done
	fi
	sleep 0.05
done
# Wait until the consoles have handed everything to the host (tcdrain).
perl -MPOSIX -e 'for (@ARGV) { open(my $f, ">", $_) and POSIX::tcdrain(fileno($f)) }' \
	/dev/tty1 /dev/tty2 2>/dev/null || sleep 0.2

finish "$status"
