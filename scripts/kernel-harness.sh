#!/usr/bin/env bash
# kernel-harness.sh - run a command "in a real SocketCAN kernel".
# See usage() below (or run with --help) for what it does and why.
set -euo pipefail

PROG=kernel-harness
SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
UML_BIN=/usr/bin/linux.uml
UML_MODULES=/usr/lib/uml/modules
T0=${EPOCHREALTIME/,/.}

usage() {
	cat <<'EOF'
Usage: bash scripts/kernel-harness.sh [options] -- <command> [args...]

Runs <command> where AF_CAN sockets and virtual CAN interfaces work, and
exits with the command's exit status.

  * If this machine's kernel has SocketCAN (a socket(AF_CAN) can be opened,
    e.g. after `sudo modprobe vcan can-raw`), the vcan interfaces are
    created on the host if missing (needs root; otherwise the error says
    which commands to run) and the command runs directly.  Interfaces are
    left in place afterwards.  CANBRIDGE_KERNEL=host.
  * Otherwise it boots User-Mode Linux (Debian package user-mode-linux,
    kernel 6.1) with the host's own filesystem as its root (hostfs, read-
    write), loads the CAN, vcan, sch_netem, veth and ifb modules, creates
    the vcan interfaces, brings up lo (127.0.0.1 and ::1), restores the
    caller's environment and working directory and runs the command there as
    the caller's user.  CANBRIDGE_KERNEL=uml.  Boot takes about 1-2 s.

Options:
  --vcan LIST        comma-separated vcan interfaces to create (default: vcan0;
                     "" for none)
  --fd               CAN FD: create the interfaces with mtu 72 (default 16)
  --mem SIZE         guest memory, e.g. 512M, 2G (default: 2G; UML only;
                     allocated lazily)
  --timeout SECONDS  kill the guest (or the host command) after SECONDS and
                     exit 124 (default: 0 = no limit)
  --kernel MODE      auto (default), host (fail unless the host has AF_CAN)
                     or uml (always boot UML); also CANBRIDGE_KERNEL_MODE
  --env NAME         also pass variable NAME into the guest (repeatable)
  --modules LIST     extra UML kernel modules to load, comma-separated
                     (e.g. can-j1939); others load on demand anyway
  --sysctl KEY=VAL   set a guest sysctl before the command, e.g.
                     net.core.rmem_max=8388608 (repeatable; UML only)
  --install-only     install/check the packages (and build the FPU shim) the
                     chosen mode needs, then exit; no command (scripts/setup.sh)
  --quiet            no progress lines on stderr (also CANBRIDGE_KERNEL_QUIET=1)
  --verbose          show kernel messages and UML's own output on stderr
  -h, --help         this text

Inside the guest:
  * Environment: PATH, HOME, USER, LOGNAME, SHELL, TERM, LANG, LC_*, TZ,
    TMPDIR, NODE_OPTIONS, NODE_*, npm_config_*, FORCE_COLOR, NO_COLOR, DEBUG,
    GITHUB_*, RUNNER_*, every CANBRIDGE_* and every variable whose name
    starts with CI, plus --env names.  Nothing else.  Also set:
    CANBRIDGE_KERNEL=uml|host, CANBRIDGE_VCAN=vcan0[,..], CANBRIDGE_VCAN_FD=0|1.
  * stdout and stderr go to the caller's stdout and stderr; they are
    terminals in the guest if they are terminals here, pipes otherwise.
    stdin is /dev/null (not forwarded).
  * Files: the whole host filesystem, read-write, including /tmp (shared with
    the host, so use it or the repository to exchange files).  Guest-only:
    /proc, /sys, /dev (+ /dev/pts, /dev/shm tmpfs) and /run (tmpfs, so
    `ip netns add` leaves nothing on the host).
  * Networking: only lo and the vcan interfaces; `tc ... netem`, veth pairs,
    ifb and `ip netns` work (other modules load on demand).  Socket buffers
    are kernel defaults (net.core.rmem_default = rmem_max = 212992), so a
    CAN_RAW socket holds a few hundred frames; raise them for burst tests,
    e.g. --sysctl net.core.rmem_default=4194304.
  * One CPU.  Every system call and process start is slow (ptrace: ~25 ms
    per fork+exec, `node -e 0` ~0.25 s); plain computation is not.
  * The guest powers off when the command exits: processes it left running
    in the background get ~0.3 s to finish writing, then are killed.
  * Kernel messages go to a log that is shown when the guest fails.

Exit status: the command's; 124 on --timeout; 125 when the harness or the
guest kernel failed (the message says what to fix); 2 for bad usage.

Packages (Debian): iproute2, can-utils, python3-can (the socketcand
client the edge's socketcand tests run), openssh-server and openssh-client
(the soak's --ssh test runs a throw-away sshd on loopback; its service is
not used); for UML also user-mode-linux and
kmod, and on CPUs with AMX gcc + libc6-dev: bookworm's UML 6.1 fails there
("ptrace set fp regs failed, errno = 14"), and a small LD_PRELOAD shim,
scripts/kernel-fpu-shim.c, built once into ~/.cache/canbridge, fixes it
(CANBRIDGE_UML_FPU_SHIM=1 forces it, =0 disables it).  Missing packages are
installed with apt-get when running as root; otherwise the error names them.

Debugging: --verbose shows the kernel log and a timestamped trace of the
guest's init (scripts/kernel-init.sh); CANBRIDGE_KERNEL_KEEP=1 keeps the run
directory (/tmp/canbridge-kernel.*) with kernel.log and uml.log.
EOF
}

say() { [[ $QUIET == 1 ]] || printf '%s: %s\n' "$PROG" "$*" >&2; }
die() { printf '%s: error: %s\n' "$PROG" "$*" >&2; exit "${EXIT_CODE:-125}"; }
usage_error() { printf '%s: %s (see --help)\n' "$PROG" "$*" >&2; exit 2; }
elapsed() { awk -v a="$T0" -v b="${1:-${EPOCHREALTIME/,/.}}" 'BEGIN { printf "%.2fs", b - a }'; }

# ---------------------------------------------------------------------------
# Arguments
VCAN=vcan0 FD=0 MEM=2G TIMEOUT=0 MODE=${CANBRIDGE_KERNEL_MODE:-auto}
QUIET=${CANBRIDGE_KERNEL_QUIET:-0} VERBOSE=0 INSTALL_ONLY=0
EXTRA_ENV=() EXTRA_MODULES=() SYSCTLS=()
while (($#)); do
	case $1 in
	--vcan) (($# >= 2)) || usage_error "--vcan needs a value"; VCAN=$2; shift 2 ;;
	--vcan=*) VCAN=${1#*=}; shift ;;
	--fd) FD=1; shift ;;
	--mem) (($# >= 2)) || usage_error "--mem needs a value"; MEM=$2; shift 2 ;;
	--mem=*) MEM=${1#*=}; shift ;;
	--timeout) (($# >= 2)) || usage_error "--timeout needs a value"; TIMEOUT=$2; shift 2 ;;
	--timeout=*) TIMEOUT=${1#*=}; shift ;;
	--kernel) (($# >= 2)) || usage_error "--kernel needs a value"; MODE=$2; shift 2 ;;
	--kernel=*) MODE=${1#*=}; shift ;;
	--env) (($# >= 2)) || usage_error "--env needs a value"; EXTRA_ENV+=("$2"); shift 2 ;;
	--env=*) EXTRA_ENV+=("${1#*=}"); shift ;;
	--modules) (($# >= 2)) || usage_error "--modules needs a value"; IFS=, read -ra m <<<"$2"; EXTRA_MODULES+=("${m[@]}"); shift 2 ;;
	--modules=*) IFS=, read -ra m <<<"${1#*=}"; EXTRA_MODULES+=("${m[@]}"); shift ;;
	--sysctl) (($# >= 2)) || usage_error "--sysctl needs a value"; SYSCTLS+=("$2"); shift 2 ;;
	--sysctl=*) SYSCTLS+=("${1#*=}"); shift ;;
	--install-only) INSTALL_ONLY=1; shift ;;
	--quiet | -q) QUIET=1; shift ;;
	--verbose | -v) VERBOSE=1; shift ;;
	-h | --help) usage; exit 0 ;;
	--) shift; break ;;
	*) usage_error "unknown option '$1'; put the command after --" ;;
	esac
done
(($#)) || ((INSTALL_ONLY)) || usage_error "no command given: kernel-harness.sh [options] -- <command> [args...]"

IFS=, read -ra VCANS <<<"$VCAN"
for ifc in "${VCANS[@]}"; do
	[[ $ifc =~ ^[A-Za-z0-9_.-]{1,15}$ ]] || usage_error "bad interface name '$ifc' (1-15 of A-Z a-z 0-9 _ . -)"
done
[[ $MEM =~ ^[0-9]+[KMG]?$ ]] || usage_error "bad --mem '$MEM' (e.g. 512M, 2G)"
[[ $TIMEOUT =~ ^[0-9]+([.][0-9]+)?$ ]] || usage_error "bad --timeout '$TIMEOUT' (seconds)"
[[ $MODE =~ ^(auto|host|uml)$ ]] || usage_error "bad --kernel '$MODE' (auto, host or uml)"
for n in "${EXTRA_ENV[@]}"; do
	[[ $n =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || usage_error "bad --env name '$n'"
done
for m in "${EXTRA_MODULES[@]}"; do
	[[ $m =~ ^[A-Za-z0-9_-]+$ ]] || usage_error "bad module name '$m'"
done
for kv in "${SYSCTLS[@]}"; do
	[[ $kv =~ ^[A-Za-z0-9_.-]+=[^[:space:]]+$ ]] || usage_error "bad --sysctl '$kv' (KEY=VALUE, no spaces)"
done

# The caller's PATH goes to the command; the harness itself also needs sbin.
CALLER_PATH=$PATH
export PATH=$PATH:/usr/local/sbin:/usr/sbin:/sbin
IS_ROOT=0; [[ $(id -u) == 0 ]] && IS_ROOT=1

# ---------------------------------------------------------------------------
# Packages: ensure_packages "package:command-or-path" ...
ensure_packages() {
	local spec pkg probe missing=() why=()
	for spec; do
		pkg=${spec%%:*} probe=${spec#*:}
		if [[ $probe == /* ]]; then [[ -e $probe ]] && continue
		else command -v "$probe" >/dev/null 2>&1 && continue; fi
		missing+=("$pkg") why+=("$pkg (no $probe)")
	done
	((${#missing[@]})) || { say "packages present: ${*%%:*}"; return 0; }
	if [[ $IS_ROOT == 1 ]] && command -v apt-get >/dev/null 2>&1; then
		say "installing ${missing[*]} (apt-get)"
		# apt's stdout goes to stderr: the caller's stdout is the command's.
		export DEBIAN_FRONTEND=noninteractive
		if ! apt-get install -y --no-install-recommends "${missing[@]}" >&2; then
			say "apt-get install failed; running apt-get update and retrying"
			if ! { apt-get update >&2 && apt-get install -y --no-install-recommends "${missing[@]}" >&2; }; then
				die "could not install ${missing[*]}; install them with: apt-get install ${missing[*]}"
			fi
		fi
	else
		local list
		list=$(printf '%s, ' "${why[@]}")
		die "missing packages: ${list%, }; install them with: sudo apt-get install -y ${missing[*]}" \
			"(Debian/Ubuntu package names)"
	fi
}

# ---------------------------------------------------------------------------
# Does the host kernel have SocketCAN?  Opening socket(PF_CAN=29,
# SOCK_RAW=3, CAN_RAW=1) is the real test; it also makes the kernel load
# can-raw on demand.  perl is essential on Debian; /proc/net/can (present
# once can.ko is loaded) is the fallback.
host_has_af_can() {
	if [[ $IS_ROOT == 1 ]] && command -v modprobe >/dev/null 2>&1; then
		modprobe -q can-raw 2>/dev/null || true
		modprobe -q vcan 2>/dev/null || true
	fi
	if command -v perl >/dev/null 2>&1; then
		perl -e 'socket(my $s, 29, 3, 1) or exit 1' 2>/dev/null
	else
		[[ -d /proc/net/can ]]
	fi
}

# ---------------------------------------------------------------------------
# Host path: vcan interfaces on the host, command runs directly.
prepare_host() {
	ensure_packages iproute2:ip can-utils:cansend python3-can:/usr/lib/python3/dist-packages/can/interfaces/socketcand/socketcand.py \
		openssh-server:/usr/sbin/sshd openssh-client:ssh
}

run_on_host() {
	prepare_host
	if ((${#SYSCTLS[@]} || ${#EXTRA_MODULES[@]})); then
		say "warning: --sysctl and --modules apply to the UML guest only; ignored on the host"
	fi
	local ifc want_mtu=16 flags
	((FD)) && want_mtu=72
	for ifc in "${VCANS[@]}"; do
		if [[ -e /sys/class/net/$ifc ]]; then
			[[ $(<"/sys/class/net/$ifc/type") == 280 ]] ||
				die "host interface $ifc exists but is not a CAN interface; choose another name with --vcan"
			if ((FD)) && [[ $(<"/sys/class/net/$ifc/mtu") != 72 ]]; then
				[[ $IS_ROOT == 1 ]] || die "$ifc has mtu $(<"/sys/class/net/$ifc/mtu"), CAN FD needs 72; run:" \
					"sudo ip link set $ifc down && sudo ip link set $ifc mtu 72 && sudo ip link set $ifc up"
				# vcan refuses an MTU change while up.
				if ! { ip link set dev "$ifc" down && ip link set dev "$ifc" mtu 72; }; then
					die "cannot set mtu 72 on $ifc"
				fi
			fi
		else
			[[ $IS_ROOT == 1 ]] || die "no interface $ifc on this host; run:" \
				"sudo modprobe vcan && sudo ip link add dev $ifc$( ((FD)) && echo " mtu 72") type vcan && sudo ip link set $ifc up" \
				"(or use --kernel uml)"
			# vcan defaults to mtu 72; set it either way (16 = classic CAN only).
			ip link add dev "$ifc" mtu "$want_mtu" type vcan ||
				die "cannot create $ifc; is the vcan module available? (modprobe vcan; on Ubuntu: apt-get install linux-modules-extra-\$(uname -r))"
			say "created $ifc on the host (left in place afterwards)"
		fi
		flags=$(<"/sys/class/net/$ifc/flags")
		if ((!(flags & 1))); then
			[[ $IS_ROOT == 1 ]] || die "$ifc is down; run: sudo ip link set $ifc up"
			ip link set dev "$ifc" up || die "cannot set $ifc up"
		fi
	done
	export CANBRIDGE_KERNEL=host CANBRIDGE_VCAN=$VCAN CANBRIDGE_VCAN_FD=$FD
	export PATH=$CALLER_PATH
	say "host kernel has SocketCAN; running on the host: $*"
	if [[ $TIMEOUT != 0 ]]; then
		local rc=0
		# --foreground: keep the command in our process group so Ctrl-C reaches it.
		timeout --foreground --kill-after=5 "$TIMEOUT" "$@" || rc=$?
		if ((rc == 124)); then
			printf '%s: error: timed out after %ss: %s\n' "$PROG" "$TIMEOUT" "$*" >&2
		fi
		exit "$rc"
	fi
	exec "$@"
}

# ---------------------------------------------------------------------------
# UML path helpers.

mem_bytes() {  # 2G -> bytes
	local n=${1%[KMG]} u=${1##*[0-9]}
	case $u in K) n=$((n << 10)) ;; M) n=$((n << 20)) ;; G) n=$((n << 30)) ;; esac
	echo "$n"
}

# UML backs guest memory with an unlinked file in $TMPDIR (else /dev/shm if
# it is tmpfs, else /tmp) and must be able to map it executable.  Choose a
# directory that is not noexec and, ideally, has room for --mem (containers
# often have a 64 MB /dev/shm).  Only touched pages use space.
uml_tmpdir() {
	local need dir avail best=
	need=$(($(mem_bytes "$MEM") / 1024))
	for dir in /dev/shm "${RUN_PARENT}"; do
		[[ -d $dir && -w $dir ]] || continue
		findmnt -n -o OPTIONS --target "$dir" 2>/dev/null | grep -qw noexec && continue
		[[ -z $best ]] && best=$dir
		avail=$(df -Pk "$dir" 2>/dev/null | awk 'NR == 2 { print $4 }')
		if [[ -n $avail ]] && ((avail >= need)); then echo "$dir"; return; fi
	done
	[[ -n $best ]] || die "no executable-mappable temporary directory for guest memory (/dev/shm and $RUN_PARENT are noexec or not writable)"
	say "warning: less free space in $best than --mem $MEM; the guest may die if it uses it all"
	echo "$best"
}

# bookworm's UML 6.1 cannot restore FPU state on hosts whose XSAVE area is
# larger than the 2696 bytes it was built for (x87..AVX-512+PKRU), i.e. on
# CPUs with AMX (Intel Sapphire Rapids and later): every guest process dies
# at once.  scripts/kernel-fpu-shim.c fixes that from the outside.
# CANBRIDGE_UML_FPU_SHIM=1 forces it (harmless where not needed), =0 skips.
fpu_shim_needed() {
	case ${CANBRIDGE_UML_FPU_SHIM:-auto} in
	1 | on | yes) return 0 ;; 0 | off | no) return 1 ;;
	esac
	grep -m1 '^flags' /proc/cpuinfo | tr ' ' '\n' | grep -Eq '^amx'
}

build_fpu_shim() {  # sets SHIM to the built shim (cached by content hash)
	local src=$SCRIPT_DIR/kernel-fpu-shim.c cache hash
	[[ -r $src ]] || die "$src is missing (needed on this CPU)"
	hash=$(cat "$src" <(cc --version 2>/dev/null | head -1) | sha256sum | cut -c1-16)
	cache=${XDG_CACHE_HOME:-${HOME:-/nonexistent}/.cache}/canbridge
	if ! mkdir -p "$cache" 2>/dev/null || [[ ! -w $cache ]]; then
		[[ -n $RUN ]] || return 0   # --install-only: built on each run instead
		cache=$RUN
	fi
	SHIM=$cache/kernel-fpu-shim-$hash.so
	if [[ ! -f $SHIM ]]; then
		# Build beside the target and rename: parallel harnesses may race.
		cc -shared -fPIC -O2 -o "$SHIM.$$" "$src" -ldl >&2 ||
			die "cannot build $src (needs gcc and libc6-dev)"
		mv -f "$SHIM.$$" "$SHIM"
		say "built $SHIM"
	fi
}

# Processes we started; killed by id on exit.  UML runs in its own session
# (setsid), so its pid is also the process group of every helper and
# guest-process host it forks: one kill of the group ends them all.
UML_PID='' RUN='' PUMPS=() SHIM='' SHIM_NEEDED=0 KVER=''
# Is any live (non-zombie) process left in process group $1?  Zombies do
# not count: once UML itself is gone its children are reaped by the host's
# init, which may take a while in some containers.
group_alive() {
	local f line fields
	kill -0 -- "-$1" 2>/dev/null || return 1
	for f in /proc/[0-9]*/stat; do
		read -r line 2>/dev/null <"$f" || continue
		read -ra fields <<<"${line##*) }"   # state ppid pgrp ...
		[[ ${fields[2]} == "$1" && ${fields[0]} != Z ]] && return 0
	done
	return 1
}

# End UML and wait until its processes are really gone.  While UML is
# running (not yet reaped by `wait`, so its pid cannot have been reused):
# SIGTERM first, on which UML kills and reaps its own helpers and exits (no
# zombies left for the host's init).  Then SIGKILL to whatever still lives
# in its process group, and wait until they have died (processes stopped
# under ptrace take a moment).
end_uml() {  # end_uml [reaped]
	local i
	if [[ ${1:-} != reaped ]]; then
		kill -TERM "$UML_PID" 2>/dev/null || true
		for ((i = 0; i < 20; i++)); do
			group_alive "$UML_PID" || break
			sleep 0.05
		done
	fi
	if group_alive "$UML_PID"; then kill -KILL -- "-$UML_PID" 2>/dev/null || true; fi
	if [[ ${1:-} != reaped ]]; then
		{ wait "$UML_PID"; } 2>/dev/null || true   # (no "Killed" job notice)
	fi
	for ((i = 0; i < 100; i++)); do
		group_alive "$UML_PID" || break
		sleep 0.05
	done
	group_alive "$UML_PID" &&
		printf '%s: warning: UML processes (group %s) still exist\n' "$PROG" "$UML_PID" >&2
	UML_PID=''
}

cleanup() {
	local rc=$?
	[[ -n $UML_PID ]] && end_uml
	for p in "${PUMPS[@]}"; do kill "$p" 2>/dev/null || true; done
	if [[ -n $RUN && -d $RUN ]]; then
		if [[ ${CANBRIDGE_KERNEL_KEEP:-0} == 1 ]]; then
			printf '%s: kept %s (CANBRIDGE_KERNEL_KEEP=1)\n' "$PROG" "$RUN" >&2
		else
			rm -rf -- "$RUN"
		fi
	fi
	return "$rc"
}

# Packages, kernel modules and (where needed) the FPU shim for UML; sets
# KVER and SHIM_NEEDED.
prepare_uml() {
	local pkgs=(user-mode-linux:"$UML_BIN" iproute2:ip can-utils:cansend kmod:modprobe
		python3-can:/usr/lib/python3/dist-packages/can/interfaces/socketcand/socketcand.py
		openssh-server:/usr/sbin/sshd openssh-client:ssh)
	SHIM_NEEDED=0
	if fpu_shim_needed; then SHIM_NEEDED=1; pkgs+=(gcc:cc libc6-dev:/usr/include/stdio.h); fi
	ensure_packages "${pkgs[@]}"

	KVER=$("$UML_BIN" --version 2>/dev/null | tail -n1) || true
	[[ -n $KVER && -d $UML_MODULES/$KVER ]] ||
		die "no module directory $UML_MODULES/$KVER for $UML_BIN (version '$KVER'); reinstall user-mode-linux"
	local ko missing=()
	for ko in net/can/can.ko net/can/can-raw.ko net/can/can-bcm.ko net/can/can-gw.ko \
		drivers/net/can/dev/can-dev.ko drivers/net/can/vcan.ko drivers/net/can/vxcan.ko \
		net/sched/sch_netem.ko drivers/net/veth.ko drivers/net/ifb.ko; do
		[[ -e $UML_MODULES/$KVER/kernel/$ko ]] || missing+=("$ko")
	done
	((${#missing[@]} == 0)) || die "UML kernel $KVER lacks modules: ${missing[*]} (in $UML_MODULES/$KVER/kernel)"
	say "UML kernel $KVER, modules in $UML_MODULES/$KVER"
}

run_in_uml() {
	prepare_uml
	local kver=$KVER

	# Per-run directory on the host filesystem, seen at the same path in the
	# guest.  It must not be under a directory the guest mounts over (/run,
	# /dev, /proc, /sys) and its path goes on the kernel command line, so
	# keep it free of spaces and quotes.
	RUN_PARENT=${TMPDIR:-/tmp}
	if [[ ! $RUN_PARENT =~ ^/[A-Za-z0-9_./-]*$ || $RUN_PARENT =~ ^/(run|dev|proc|sys)(/|$) || ! -d $RUN_PARENT ]]; then
		RUN_PARENT=/tmp
	fi
	RUN_PARENT=${RUN_PARENT%/}; [[ -n $RUN_PARENT ]] || RUN_PARENT=/tmp
	trap cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	trap 'exit 129' HUP
	RUN=$(mktemp -d "$RUN_PARENT/canbridge-kernel.XXXXXX")
	chmod 700 "$RUN"
	install -m 755 "$SCRIPT_DIR/kernel-init.sh" "$RUN/init"
	mkdir -p "$RUN/modroot/lib/modules" "$RUN/uml"
	ln -s "$UML_MODULES/$kver" "$RUN/modroot/lib/modules/$kver"
	# The guest kernel's on-demand module loader (kernel.modprobe); see
	# kernel-init.sh.
	printf '#!/bin/sh\nexec modprobe -d %q "$@"\n' "$RUN/modroot" >"$RUN/modprobe"
	chmod 755 "$RUN/modprobe"

	SHIM=''
	((SHIM_NEEDED)) && build_fpu_shim
	local shim=$SHIM

	# Environment for the command (see --help).  printf %q quotes anything,
	# including newlines, in a form bash reads back verbatim.
	local name
	{
		for name in $(compgen -e); do
			case $name in
			PATH | HOME | USER | LOGNAME | SHELL | TERM | LANG | LANGUAGE | LC_* | TZ | NODE_OPTIONS | NODE_* | \
				npm_config_* | NPM_CONFIG_* | FORCE_COLOR | NO_COLOR | DEBUG | GITHUB_* | RUNNER_* | CANBRIDGE_* | CI*) ;;
			TMPDIR) [[ $TMPDIR =~ ^/(run|dev|proc|sys)(/|$) ]] && continue ;;
			*) continue ;;
			esac
			[[ $name == PATH ]] && { printf 'export PATH=%q\n' "$CALLER_PATH"; continue; }
			printf 'export %s=%q\n' "$name" "${!name}"
		done
		for name in "${EXTRA_ENV[@]}"; do
			[[ -v $name ]] && printf 'export %s=%q\n' "$name" "${!name}"
		done
	} >"$RUN/env"

	local modules=(can can-raw can-bcm can-gw can-dev vcan vxcan sch_netem veth ifb ipv6 "${EXTRA_MODULES[@]}")
	# Computed here: inside the { } >config block below fd 1 is the file.
	local tty_size='' out_tty=0 err_tty=0
	if [[ -t 1 ]]; then  # (in $( ) fd 1 is the pipe: query the terminal via fd 3)
		out_tty=1
		{ tty_size=$(stty size <&3 2>/dev/null || true); } 3>&1
	fi
	[[ -t 2 ]] && err_tty=1
	{
		printf 'CB_CMD=('; printf '%q ' "$@"; printf ')\n'
		printf 'CB_CWD=%q\n' "$PWD"
		printf 'CB_UID=%q CB_GID=%q CB_GROUPS=%q\n' "$(id -u)" "$(id -g)" "$(id -G | tr ' ' ,)"
		printf 'CB_VCAN=%q CB_FD=%q\n' "${VCANS[*]}" "$FD"
		printf 'CB_MODULES=%q\n' "${modules[*]}"
		printf 'CB_SYSCTLS=%q\n' "${SYSCTLS[*]}"
		printf 'CB_STDOUT_TTY=%q CB_STDERR_TTY=%q CB_TTY_SIZE=%q\n' "$out_tty" "$err_tty" "$tty_size"
		printf 'CB_QUIET=%q\n' "$QUIET"
	} >"$RUN/config"

	# Guest consoles -> host: tty0 (kernel + init messages) to kernel.log;
	# tty1/tty2 (the command's stdout/stderr) through FIFOs copied by cat.
	# UML makes its console fds non-blocking (and a terminal raw), which
	# would leak to whoever shares our stdout; the cats keep it private.
	mkfifo "$RUN/stdout" "$RUN/stderr"
	cat "$RUN/stdout" &
	PUMPS+=($!)
	cat "$RUN/stderr" >&2 &
	PUMPS+=($!)

	local tmpdir
	tmpdir=$(uml_tmpdir)
	# shellcheck disable=SC2054  # the commas belong to UML's con= syntax
	local uml_args=(
		"mem=$MEM" root=/dev/root rootfstype=hostfs rootflags=/ rw
		"init=$RUN/init" "CANBRIDGE_RUN_DIR=$RUN" "CANBRIDGE_TRACE=$VERBOSE"
		"uml_dir=$RUN/uml" "umid=canbridge-$$"
		con=null ssl=null con0=null,fd:3 con1=null,fd:4 con2=null,fd:5
		# The built-in RAID6 library benchmarks itself at boot: 0.85 s of a
		# 1.5 s boot.  Nothing here uses RAID6 (no block devices at all).
		initcall_blacklist=raid6_select_algo
	)
	# The guest console is a file (shown on failure, or live with --verbose),
	# so keep every kernel message; "quiet" only silences UML's own
	# start-up chatter on its stdout.
	if ((VERBOSE)); then uml_args+=(loglevel=7); else uml_args+=(quiet loglevel=7); fi

	local desc="mem $MEM"
	[[ -n $shim ]] && desc+=", FPU shim"
	[[ $TIMEOUT != 0 ]] && desc+=", timeout ${TIMEOUT}s"
	say "booting UML ($desc)"
	local klog=$RUN/kernel.log
	if ((VERBOSE)); then
		mkfifo "$RUN/klog"
		tee "$klog" <"$RUN/klog" >&2 &
		PUMPS+=($!)
		klog=$RUN/klog
	fi
	# set +m: no job control, so the background child is not a process group
	# leader and setsid(1) execs instead of forking: $! is UML's pid and its
	# session/group id.
	set +m
	# A kernel panic ends UML with abort(): no core file in the caller's cwd.
	ulimit -c 0
	setsid env TMPDIR="$tmpdir" ${shim:+LD_PRELOAD="$shim${LD_PRELOAD:+:$LD_PRELOAD}"} \
		"$UML_BIN" "${uml_args[@]}" \
		</dev/null >>"$RUN/uml.log" 2>&1 3>"$klog" 4>"$RUN/stdout" 5>"$RUN/stderr" &
	UML_PID=$!
	((VERBOSE)) && tail -n +1 -s 0.1 -f --pid="$UML_PID" "$RUN/uml.log" >&2 &
	((VERBOSE)) && PUMPS+=($!)

	local uml_rc=0 timed_out=0
	if [[ $TIMEOUT != 0 ]]; then
		sleep "$TIMEOUT" &
		local sleeper=$! done_pid=''
		wait -n -p done_pid "$UML_PID" "$sleeper" || true
		if [[ $done_pid == "$sleeper" ]]; then
			timed_out=1
			end_uml
		else
			kill "$sleeper" 2>/dev/null || true
		fi
		wait "$sleeper" 2>/dev/null || true
	fi
	if [[ -n $UML_PID ]]; then
		{ wait "$UML_PID"; } 2>/dev/null || uml_rc=$?
		# Anything UML forked that is still around (normally nothing).
		end_uml reaped
	fi
	# The cats end when the last writer (UML and its children) is gone.
	wait "${PUMPS[@]}" 2>/dev/null || true
	PUMPS=()

	if [[ -r $RUN/started ]]; then
		say "command started $(elapsed "$(<"$RUN/started")") after harness start"
	fi
	if ((timed_out)); then
		EXIT_CODE=124 die "timed out after ${TIMEOUT}s; killed the UML guest (command: $*)"
	fi
	if [[ ! -r $RUN/status ]]; then
		{
			printf '%s: error: the UML kernel stopped (exit %s) before the command finished.\n' "$PROG" "$uml_rc"
			if [[ -s $RUN/uml.log ]]; then
				echo "--- UML output:"
				tail -n 20 "$RUN/uml.log"
			fi
			if [[ -s $RUN/kernel.log ]]; then
				echo "--- last kernel messages (without call traces; --verbose shows all live):"
				grep -v '^ \[<\|^Call Trace:\|^Stack:\|^ [0-9a-f]\{8\} ' "$RUN/kernel.log" | tail -n 25
			fi
			if grep -qs 'ptrace set fp regs failed' "$RUN/kernel.log" "$RUN/uml.log"; then
				echo "hint: this CPU needs scripts/kernel-fpu-shim.c; set CANBRIDGE_UML_FPU_SHIM=1"
			fi
			if grep -qs 'check_ptrace\|ptrace: Operation not permitted' "$RUN/uml.log"; then
				echo "hint: UML needs ptrace (containers: --cap-add SYS_PTRACE, seccomp unconfined; kernel.yama.ptrace_scope < 3)"
			fi
			if grep -qs 'Out of memory\|oom-kill' "$RUN/kernel.log"; then
				echo "hint: the guest ran out of memory; raise --mem"
			fi
		} >&2
		exit 125
	fi
	local status
	status=$(<"$RUN/status")
	say "finished in $(elapsed), exit status $status"
	exit "$status"
}

# ---------------------------------------------------------------------------
if ((INSTALL_ONLY)); then
	# For scripts/setup.sh: install and check what the chosen mode needs,
	# build the FPU shim if this CPU needs it, run nothing.
	if [[ $MODE == host ]] || { [[ $MODE == auto ]] && host_has_af_can; }; then
		prepare_host
		host_has_af_can || die "--kernel host: this kernel has no SocketCAN (socket(AF_CAN) fails); try: sudo modprobe can-raw vcan, or --kernel uml"
		say "ready: the host kernel has SocketCAN; commands will run on the host"
	else
		prepare_uml
		((SHIM_NEEDED)) && build_fpu_shim
		say "ready: commands will run in User-Mode Linux $KVER${SHIM:+ (with $SHIM)}"
	fi
	exit 0
fi

case $MODE in
host)
	host_has_af_can || die "--kernel host: this kernel has no SocketCAN (socket(AF_CAN) fails); try: sudo modprobe can-raw vcan, or --kernel uml"
	run_on_host "$@" ;;
uml) run_in_uml "$@" ;;
auto)
	if host_has_af_can; then run_on_host "$@"; fi
	say "host kernel has no SocketCAN (socket(AF_CAN) fails); using User-Mode Linux"
	run_in_uml "$@" ;;
esac
