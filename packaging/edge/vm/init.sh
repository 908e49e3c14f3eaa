#!/bin/busybox sh
# PID 1 of the arm64 test VM (packaging/edge/vm/vm-test.sh): loads the CAN modules of the
# Debian arm64 kernel, creates vcan0, starts a TCPBus receiver and canbridge-edge on
# vcan0, puts 1000 frames on the bus with cangen, then checks the addon the edge unpacked
# on this kernel (guest-binding.cjs), prints the outcome, powers off.
/bin/busybox mkdir -p /proc /sys /dev /tmp /root /usr/bin /usr/sbin /sbin
/bin/busybox --install -s
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mount -t tmpfs tmp /tmp
export HOME=/root PATH=/usr/bin:/bin:/usr/sbin:/sbin
step() { echo "VM $(cut -d' ' -f1 /proc/uptime)s: $*"; }
finish() { echo "VM-EXIT $1"; sync; poweroff -f; }
step "kernel $(uname -r) $(uname -m), $(nproc) cpu"
for m in can can-raw can-dev vcan; do insmod "/modules/$m.ko" || finish 10; done
ip link set lo up
# as installed (99-canbridge.conf): 4 MiB socket receive buffers; under emulation the edge
# is slow enough that the default (~200 KiB) overflows and the kernel drops frames
sysctl -w net.core.rmem_default=4194304 net.core.rmem_max=4194304 >/dev/null || finish 16
ip link add dev vcan0 type vcan || finish 11
ip link set vcan0 up || finish 12
step "vcan0: $(cat /sys/class/net/vcan0/operstate), flags $(cat /sys/class/net/vcan0/flags)"
/canbridge-edge --version | sed 's/^/VM-VERSION /' || finish 13
/node /receiver.mjs 29536 1000 300 &
receiver=$!
sleep 2
edge_start=$(cut -d' ' -f1 /proc/uptime)
step "starting canbridge-edge on vcan0"
mkdir -m 700 /tmp/addon
CANBRIDGE_ADDON_DIR=/tmp/addon /canbridge-edge --server 127.0.0.1:29536 --channel vcan0 --log-level info > /tmp/edge.log 2>&1 &
edge=$!
i=0
until grep -q 'connected to the server' /tmp/edge.log; do
  i=$((i + 1))
  if [ $i -gt 600 ] || ! kill -0 $edge 2>/dev/null; then cat /tmp/edge.log; finish 14; fi
  sleep 0.2
done
step "edge connected (started at ${edge_start}s)"
cangen vcan0 -n 1000 -g 2 -I 123 -L 8 -D i || finish 15
step "cangen sent 1000 frames"
wait $receiver
code=$?
kill -TERM $edge
wait $edge
step "edge exited $?"
sed 's/^/VM-EDGE-LOG /' /tmp/edge.log | tail -8
[ "$code" = 0 ] || finish "$code"

# the unpacked addon alone: kept frames as candump saw them, drops counted (guest-binding.cjs)
step "binding check on $(ls /tmp/addon)"
/node /guest-binding.cjs /tmp/addon/can*.node /tmp/candump.log 100 /tmp/sent > /tmp/binding.log 2>&1 &
binding=$!
i=0
until grep -q 'BINDING ready' /tmp/binding.log; do
  i=$((i + 1))
  if [ $i -gt 600 ] || ! kill -0 $binding 2>/dev/null; then cat /tmp/binding.log; finish 17; fi
  sleep 0.2
done
candump -L vcan0 > /tmp/candump.log &
dump=$!
sleep 1
cangen vcan0 -n 100 -g 0 -I 321 -L 8 -D i || finish 18
sleep 1
kill -INT $dump
wait $dump
touch /tmp/sent
wait $binding
code=$?
cat /tmp/binding.log
finish $code
