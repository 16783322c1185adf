#!/bin/bash
# Runs its arguments as a command, then prints how long it took and how many core-seconds the whole machine
# was busy and idle meanwhile (two reads of /proc/stat). /usr/bin/time counts only what the command reaped:
# it misses Chromium's renderers (children of Chromium's zygote), the largest share of a browser test's CPU.
# Usage: bench/machine_busy.sh COMMAND [ARGS...]   (Linux; the machine should be otherwise idle)
read -r _ u n s i w x y z _ < /proc/stat; busy0=$((u + n + s + x + y + z)); idle0=$((i + w)); t0=$(date +%s.%N)
"$@"
status=$?
read -r _ u n s i w x y z _ < /proc/stat; busy1=$((u + n + s + x + y + z)); idle1=$((i + w)); t1=$(date +%s.%N)
hz=$(getconf CLK_TCK)
python3 -c "print('machine: wall %.1f s, busy %.1f core-s, idle %.1f core-s' % ($t1 - $t0, ($busy1 - $busy0) / $hz, ($idle1 - $idle0) / $hz))"
exit $status
