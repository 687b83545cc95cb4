#!/usr/bin/env bash
# A one-node SLURM cluster on this machine, for testing `--profile slurm` for real.
#   bash tests/slurm/cluster.sh install   apt packages (slurmctld slurmd slurm-client munge), as root
#   bash tests/slurm/cluster.sh start DIR  write slurm.conf (one node, a fake GPU GRES) and start the daemons
#   bash tests/slurm/cluster.sh stop DIR   stop what `start` started
# No systemd: munged, slurmctld and slurmd are started by hand and write PID files under DIR.
# The config goes to /etc/slurm (srun inside a job step finds it only there), state and logs to DIR.
set -euo pipefail
cmd=${1:?install|start|stop}
dir=${2:-/tmp/synpretrain-slurm}

case "$cmd" in
install)
  missing=()
  for p in slurmctld slurmd slurm-client munge; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  if [ ${#missing[@]} -gt 0 ]; then
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
  ;;
start)
  mkdir -p "$dir"/{state,spool,log}
  host=$(hostname -s)
  # at least 8 CPUs declared (SlurmdParameters=config_overrides: slurmd takes the config's word), so
  # that a pack of two 2-thread jobs (5 CPUs) fits on a 2-core CI machine, oversubscribed
  cpus=$(( $(nproc) > 8 ? $(nproc) : 8 ))
  mem=$(awk '/MemTotal/ {printf "%d", $2 / 1024 * 0.8}' /proc/meminfo)
  : > "$dir/fake-gpu0"                          # the GRES "device" of the fake GPU
  conf=/etc/slurm
  mkdir -p "$conf"
  cat > "$conf/slurm.conf" <<CONF
ClusterName=synpretrain-test
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=1000
EnforcePartLimits=ALL
ReturnToService=2
GresTypes=gpu
MinJobAge=600
KillWait=5
SlurmdParameters=config_overrides
NodeName=$host CPUs=$cpus RealMemory=$mem Gres=gpu:1 State=UNKNOWN
PartitionName=cpu Nodes=$host Default=YES MaxTime=INFINITE State=UP
PartitionName=gpu Nodes=$host MaxTime=INFINITE State=UP
CONF
  echo "Name=gpu File=$dir/fake-gpu0" > "$conf/gres.conf"
  export SLURM_CONF="$conf/slurm.conf"
  mkdir -p /run/munge /var/log/munge /var/lib/munge /etc/munge
  [ -s /etc/munge/munge.key ] || dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
  chown -R munge:munge /etc/munge /run/munge /var/log/munge /var/lib/munge 2>/dev/null || true
  chmod 400 /etc/munge/munge.key
  pgrep -x munged >/dev/null || runuser -u munge -- /usr/sbin/munged --pid-file="$dir/munged.pid" 2>/dev/null \
    || /usr/sbin/munged --force --pid-file="$dir/munged.pid"
  slurmctld -f "$conf/slurm.conf"
  slurmd -f "$conf/slurm.conf"
  for _ in $(seq 60); do
    if sinfo -h -o %T 2>/dev/null | grep -qE '^(idle|mixed|allocated)'; then
      echo "SLURM_CONF=$conf/slurm.conf"; exit 0
    fi
    sleep 1
  done
  echo "SLURM did not come up; see $dir/log" >&2
  exit 1
  ;;
stop)
  for d in slurmd slurmctld munged; do
    [ -f "$dir/$d.pid" ] && kill "$(cat "$dir/$d.pid")" 2>/dev/null || true
  done
  ;;
*)
  echo "usage: $0 install|start|stop [DIR]" >&2; exit 2 ;;
esac
