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
node test/run.mjs --timeout=10m "${matches[@]}" "${present[@]}"
rc=$?
echo "guest: tests exited $rc after $(( $(date +%s) - t0 )) s"
echo "guest /sys/fs/cgroup: $(stat -fc %T /sys/fs/cgroup)"
