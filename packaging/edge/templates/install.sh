#!/bin/sh
# canbridge-edge @VERSION@ (linux-@ARCH@) installer. Run from the unpacked tarball:
#   sudo ./install.sh                    install or upgrade, enable the service
#   sudo ./install.sh --start            ... and (re)start it now
#   ./install.sh --dry-run               print what it would do, change nothing
#   ./install.sh --prefix /tmp/root      install the files under another root (no
#                                        users, sysctl or systemctl: for images and tests)
#   sudo ./install.sh --uninstall        remove binary, unit, sysctl and network files
#                                        (keeps /etc/canbridge and /var/lib/canbridge)
# Other options: --bitrate N (default 500K, for a new 80-can0.network), --server HOST:PORT
# or HOST:PORT,HOST:PORT (several: failover in that order; for a new
# /etc/canbridge/edge.json), --force (skip the architecture check).
# Safe to run again: the binary and unit are replaced, edge.json and 80-can0.network are
# kept when they exist.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
arch=@ARCH@
prefix=
dry_run=0
start=0
uninstall=0
force=0
bitrate=
server=
user=canbridge

usage() { sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; }
die() { echo "install.sh: $*" >&2; exit 1; }

while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) [ $# -ge 2 ] || die "--prefix needs a directory"; prefix=$2; shift 2 ;;
    --prefix=*) prefix=${1#--prefix=}; shift ;;
    --dry-run|-n) dry_run=1; shift ;;
    --start) start=1; shift ;;
    --uninstall) uninstall=1; shift ;;
    --force) force=1; shift ;;
    --bitrate) [ $# -ge 2 ] || die "--bitrate needs a value"; bitrate=$2; shift 2 ;;
    --bitrate=*) bitrate=${1#--bitrate=}; shift ;;
    --server) [ $# -ge 2 ] || die "--server needs host:port"; server=$2; shift 2 ;;
    --server=*) server=${1#--server=}; shift ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown option $1" ;;
  esac
done
if [ -n "$prefix" ]; then
  case "$prefix" in /*) ;; *) prefix=$(pwd)/$prefix ;; esac
  prefix=${prefix%/}
fi

say() { echo "install.sh: $*"; }
# run CMD...: do it, or print it with --dry-run
run() {
  if [ "$dry_run" = 1 ]; then echo "  would run: $*"; else "$@"; fi
}
# host-only CMD...: system changes that make no sense under --prefix
host() {
  if [ -n "$prefix" ]; then echo "  skipped (--prefix): $*"; else run "$@"; fi
}

bin_dir=$prefix/usr/local/bin
doc_dir=$prefix/usr/local/share/doc/canbridge-edge
unit_dir=$prefix/etc/systemd/system
network_dir=$prefix/etc/systemd/network
sysctl_dir=$prefix/etc/sysctl.d
config_dir=$prefix/etc/canbridge

if [ -z "$prefix" ] && [ "$dry_run" = 0 ] && [ "$(id -u)" != 0 ]; then
  die "run as root (sudo ./install.sh), or try --dry-run / --prefix DIR"
fi

if [ "$uninstall" = 1 ]; then
  say "uninstalling canbridge-edge (keeping $config_dir and /var/lib/canbridge)"
  if [ -z "$prefix" ] && command -v systemctl >/dev/null 2>&1; then
    run systemctl disable --now canbridge-edge.service || true
  fi
  run rm -f "$bin_dir/canbridge-edge" "$unit_dir/canbridge-edge.service" \
    "$sysctl_dir/99-canbridge.conf" "$network_dir/80-can0.network"
  run rm -rf "$doc_dir"
  if [ -z "$prefix" ] && [ -d /run/systemd/system ]; then run systemctl daemon-reload; fi
  say "done"
  exit 0
fi

# The archive is intact and complete.
if command -v sha256sum >/dev/null 2>&1; then
  (cd "$here" && sha256sum -c --quiet --strict SHA256SUMS) || die "checksums do not match: download the tarball again"
fi

# This machine runs binaries of this architecture (the userland decides: a 32-bit
# Raspberry Pi OS on a 64-bit kernel reports aarch64 from uname -m but needs armv7).
if [ "$force" = 0 ] && [ -z "$prefix" ]; then
  if command -v dpkg >/dev/null 2>&1; then
    case "$(dpkg --print-architecture)" in
      amd64) host_arch=x64 ;; arm64) host_arch=arm64 ;; armhf) host_arch=armv7 ;; *) host_arch=$(dpkg --print-architecture) ;;
    esac
  else
    case "$(uname -m)" in
      x86_64) host_arch=x64 ;; aarch64|arm64) host_arch=arm64 ;; armv7l|armv8l) host_arch=armv7 ;; *) host_arch=$(uname -m) ;;
    esac
    if [ "$host_arch" = arm64 ] && [ "$(getconf LONG_BIT)" = 32 ]; then host_arch=armv7; fi
  fi
  if [ "$host_arch" != "$arch" ]; then
    die "this is the linux-$arch build but this system is $host_arch: get canbridge-edge-@VERSION@-linux-$host_arch.tar.gz (or --force)"
  fi
fi

say "installing canbridge-edge @VERSION@ (linux-$arch)${prefix:+ under $prefix}"
[ "$dry_run" = 1 ] && say "dry run: nothing is changed"

# 1. the service user: a system user without a home or a shell; raw CAN needs no group
if [ -z "$prefix" ] && id "$user" >/dev/null 2>&1; then
  say "user $user exists"
else
  say "creating system user $user"
  if command -v useradd >/dev/null 2>&1; then
    host useradd --system --user-group --no-create-home --home-dir /var/lib/canbridge \
      --shell /usr/sbin/nologin --comment "canbridge edge" "$user"
  else
    host adduser --system --group --no-create-home --home /var/lib/canbridge --shell /usr/sbin/nologin "$user"
  fi
fi

# 2. files: binary and unit replaced; configuration kept when present
run mkdir -p "$bin_dir" "$doc_dir" "$unit_dir" "$network_dir" "$sysctl_dir" "$config_dir"
run install -m 0755 "$here/canbridge-edge" "$bin_dir/canbridge-edge.new"
run mv -f "$bin_dir/canbridge-edge.new" "$bin_dir/canbridge-edge"
run install -m 0644 "$here/canbridge-edge.service" "$unit_dir/canbridge-edge.service"
run install -m 0644 "$here/99-canbridge.conf" "$sysctl_dir/99-canbridge.conf"
run install -m 0644 "$here/README.txt" "$here/config.example.json" "$here/BUILDINFO.json" "$doc_dir/"
run cp -R "$here/licenses" "$doc_dir/"

if [ -e "$network_dir/80-can0.network" ]; then
  say "keeping $network_dir/80-can0.network"
else
  say "writing $network_dir/80-can0.network (BitRate=${bitrate:-500K})"
  if [ "$dry_run" = 1 ]; then
    echo "  would write: $network_dir/80-can0.network"
  else
    sed "s/^BitRate=.*/BitRate=${bitrate:-500K}/" "$here/80-can0.network" > "$network_dir/80-can0.network"
    chmod 0644 "$network_dir/80-can0.network"
  fi
fi

if [ -e "$config_dir/edge.json" ]; then
  say "keeping $config_dir/edge.json"
else
  say "writing $config_dir/edge.json${server:+ (server $server)}"
  if [ "$dry_run" = 1 ]; then
    echo "  would write: $config_dir/edge.json"
  else
    if [ -n "$server" ]; then
      sed "s/\"server\": *\"[^\"]*\"/\"server\": \"$server\"/" "$here/config.example.json" > "$config_dir/edge.json"
    else
      cp "$here/config.example.json" "$config_dir/edge.json"
    fi
    chmod 0644 "$config_dir/edge.json"
  fi
fi

# 3. apply: buffers now, networkd for can0, the service enabled (started with --start)
host sysctl -q -p "$sysctl_dir/99-canbridge.conf" || say "warning: could not apply $sysctl_dir/99-canbridge.conf now (applied at boot)"
if [ -n "$prefix" ]; then
  host systemctl enable systemd-networkd.service canbridge-edge.service
elif ! command -v systemctl >/dev/null 2>&1; then
  say "no systemd: start /usr/local/bin/canbridge-edge --config /etc/canbridge/edge.json yourself"
elif [ ! -d /run/systemd/system ]; then
  # an image being built, a chroot, a container: enable for the next boot only
  say "systemd is not running here: enabling for the next boot"
  run systemctl enable systemd-networkd.service canbridge-edge.service
else
  run systemctl daemon-reload
  run systemctl enable systemd-networkd.service
  if [ "$dry_run" = 0 ] && ! systemctl is-active --quiet systemd-networkd.service; then
    run systemctl start systemd-networkd.service
  else
    run networkctl reload
  fi
  run systemctl enable canbridge-edge.service
  if [ "$start" = 1 ]; then run systemctl restart canbridge-edge.service; fi
fi

say "installed. Next:"
say "  1. set \"server\" in /etc/canbridge/edge.json (now: $(sed -n 's/.*"server": *"\([^"]*\)".*/\1/p' "$config_dir/edge.json" 2>/dev/null || echo '?'))"
say "  2. canbridge-edge doctor --config /etc/canbridge/edge.json"
say "  3. systemctl restart canbridge-edge && journalctl -u canbridge-edge -f"
