# The VM lane's job inside the guest (run.sh prepends CI, cd REPO and files=(…)).
set -uo pipefail
echo "guest: kernel $(uname -r), $(nproc) cpus, /sys/fs/cgroup is $(stat -fc %T /sys/fs/cgroup)"
t0=$(date +%s)
# The Vagrant provisioning, run here too so that it cannot rot: packages (all
# present: the guest's / is the host's), Node, the build and the fixture.
if ! bash test/vm/provision.sh --no-build; then
  echo "guest: provisioning failed"
  echo "0 passed, 1 failed, 0 skipped"
  echo "guest /sys/fs/cgroup: $(stat -fc %T /sys/fs/cgroup)"
  exit 1
fi
echo "guest: provisioned in $(( $(date +%s) - t0 )) s"
present=()
for f in "${files[@]}"; do
  if [[ -f $f ]]; then present+=("$f"); else echo "guest: $f is not built in this checkout; not run"; fi
done
# One skiff command takes 2-10 s under TCG: a longer timeout than the host's.
# A watchdog: when no test has finished for 4 minutes, it prints what every
# process is waiting on, memory and the kernel log (lines start "guest-diag",
# which the host's stall watcher ignores).
node test/run.mjs --timeout=10m "${matches[@]}" "${present[@]}" | tee /tmp/guest-tap.log &
tests=$!
(
  last=; idle=0
  while sleep 20; do
    cur=$(grep -cE '^(not )?ok ' /tmp/guest-tap.log 2>/dev/null)
    if [[ $cur == "$last" ]]; then idle=$((idle + 20)); else idle=0; last=$cur; fi
    if (( idle >= 240 )); then
      idle=0
      {
        echo "no test finished for 240 s; uptime $(cut -d' ' -f1 /proc/uptime) s; load $(cat /proc/loadavg)"
        ps -eo pid,ppid,stat,pcpu,wchan:28,etime,args --sort=pid | cut -c1-180
        grep -E '^(MemTotal|MemAvailable|Shmem|Dirty):' /proc/meminfo
        cat /proc/pressure/cpu /proc/pressure/memory /proc/pressure/io 2>/dev/null
        dmesg | tail -25
      } 2>&1 | sed 's/^/guest-diag: /'
    fi
  done
) &
watchdog=$!
wait "$tests"
rc=$?
kill "$watchdog" 2>/dev/null
echo "guest: tests exited $rc after $(( $(date +%s) - t0 )) s"
echo "guest /sys/fs/cgroup: $(stat -fc %T /sys/fs/cgroup)"
