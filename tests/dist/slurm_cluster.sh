#!/usr/bin/env bash
# slurm_cluster.sh — start/stop a real one-node SLURM cluster (slurmctld + slurmd + munged) for the
# tests, from Debian's slurm-wlm and munge packages (see ../shared/notes/slurm-single-node.md).
# usage: slurm_cluster.sh start STATE_DIR | stop STATE_DIR
# Exit 77 from `start` when SLURM is not installed or cannot run here (the test then skips).
set -u
cmd=${1:?start|stop}; dir=${2:?STATE_DIR}
host=$(hostname -s)
case "$cmd" in
start)
  for b in slurmctld slurmd sbatch munged; do
    command -v "$b" >/dev/null 2>&1 || [ -x "/usr/sbin/$b" ] || { echo "slurm_cluster: $b not installed"; exit 77; }
  done
  mkdir -p "$dir"/{state,spool,log,run}
  # munge
  if [ ! -s /etc/munge/munge.key ]; then mungekey --create --force >/dev/null 2>&1 || true; fi
  chown munge:munge /etc/munge/munge.key 2>/dev/null; chmod 0400 /etc/munge/munge.key 2>/dev/null
  mkdir -p /run/munge && chown munge:munge /run/munge
  if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
    runuser -u munge -- /usr/sbin/munged >/dev/null 2>&1 || true
    for _ in $(seq 50); do munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && break; sleep 0.1; done
  fi
  munge -n 2>/dev/null | unmunge >/dev/null 2>&1 || { echo "slurm_cluster: munged does not run"; exit 77; }
  cpus=$(getconf _NPROCESSORS_ONLN); mem=$(( $(awk '/MemTotal/ {print int($2/1024)}' /proc/meminfo) - 1024 ))
  mkdir -p /etc/slurm
  [ -f /etc/slurm/slurm.conf ] && [ ! -f "$dir/slurm.conf.orig" ] && cp /etc/slurm/slurm.conf "$dir/slurm.conf.orig"
  cat > /etc/slurm/slurm.conf <<CONF
ClusterName=lvttest
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=pmix
ReturnToService=2
MailProg=/bin/true
EnforcePartLimits=ALL
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/run/slurmctld.pid
SlurmdPidFile=$dir/run/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
SlurmctldPort=6817
SlurmdPort=6818
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=test Nodes=$host Default=YES MaxTime=INFINITE State=UP OverSubscribe=YES
CONF
  /usr/sbin/slurmctld || { echo "slurm_cluster: slurmctld failed"; tail -5 "$dir/log/slurmctld.log"; exit 77; }
  /usr/sbin/slurmd || { echo "slurm_cluster: slurmd failed"; tail -5 "$dir/log/slurmd.log"; exit 77; }
  for _ in $(seq 100); do
    st=$(sinfo -h -n "$host" -o %t 2>/dev/null | head -1)
    [ "$st" = idle ] && { echo "slurm_cluster: up ($host idle)"; exit 0; }
    sleep 0.2
  done
  echo "slurm_cluster: node did not become idle (state '$st')"; tail -5 "$dir/log/slurmctld.log"; exit 1
  ;;
stop)
  for p in slurmd slurmctld; do
    [ -f "$dir/run/$p.pid" ] && kill "$(cat "$dir/run/$p.pid")" 2>/dev/null
  done
  sleep 0.5
  [ -f "$dir/slurm.conf.orig" ] && cp "$dir/slurm.conf.orig" /etc/slurm/slurm.conf
  exit 0
  ;;
esac
