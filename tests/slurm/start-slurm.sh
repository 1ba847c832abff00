#!/usr/bin/env bash
# start-slurm.sh -- bring up a single-node SLURM 22.05 cluster (Debian 12
# packages) on this machine, as root, WITHOUT systemd: munged, [mariadbd +
# slurmdbd,] slurmctld, slurmd, all started by hand.
#
# genomelearn: the cluster tests (tests/workflow/test_slurm_workflow.py) run the
# workflow through profiles/slurm against this cluster; CI (.ci/run) calls
#   bash tests/slurm/start-slurm.sh
# before pytest. Partitions: `main` (default, CPU jobs) and `gpu` (training
# jobs), one fake GPU (gres/gpu), no accounting, so the profile's
# `slurm-status-command: squeue` is what makes job status checks work.
# Adapted from the shared recipe ../shared/tools/start-slurm.sh: the node's
# memory defaults to what the machine has (a RealMemory above it would drain
# the node).
#
# Idempotent: re-running with the same settings leaves healthy daemons alone;
# a changed config restarts the slurm daemons; stale pid files / sockets are
# handled. `STOP=1 start-slurm.sh` stops every daemon this script started
# (by the pid it recorded).
#
# Settings (environment):
#   SLURM_CPUS        CPUs advertised for the node            (default: nproc)
#   SLURM_MEM_MB      RealMemory of the node, MB   (default: 20000, at most
#                     90 % of MemTotal)
#   SLURM_FAKE_GPUS   number of fake gres/gpu on the node      (default: 1; 0 = none)
#                     plain files stand in for /dev/nvidiaN: --gpus=N and
#                     --gres=gpu:N are accepted and scheduled, nothing is bound,
#                     CUDA_VISIBLE_DEVICES is NOT set.
#   SLURM_ACCOUNTING  none     -> accounting_storage/none + jobcomp/filetxt:
#                                 `sacct` fails ("Slurm accounting storage is
#                                 disabled"); snakemake must then use
#                                 `--slurm-status-command squeue` (MinJobAge=600)
#                     slurmdbd -> MariaDB + slurmdbd: `sacct` works, so the
#                                 plugin's default status command works too
#                     (default: none)
set -euo pipefail

SLURM_CPUS="${SLURM_CPUS:-$(nproc)}"
mem_total_mb=$(( $(awk '/^MemTotal:/ {print $2}' /proc/meminfo) / 1024 ))
SLURM_MEM_MB="${SLURM_MEM_MB:-$(( mem_total_mb * 9 / 10 < 20000 ? mem_total_mb * 9 / 10 : 20000 ))}"
SLURM_FAKE_GPUS="${SLURM_FAKE_GPUS:-1}"
SLURM_ACCOUNTING="${SLURM_ACCOUNTING:-none}"
NODE="$(hostname -s)"
CONF_DIR=/etc/slurm
RUN_DIR=/run/slurm-local        # pid files of everything started here
LOG_DIR=/var/log/slurm
DB_PASS=slurm-local-only        # loopback-only test database

log() { echo "[start-slurm] $*" >&2; }
# a pid counts as alive only if it exists and is not a zombie (PID 1 here may
# be slow to reap daemons killed with -9)
pid_alive() { kill -0 "$1" 2>/dev/null && ! grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null; }
alive() { [[ -s "$1" ]] && pid_alive "$(cat "$1")"; }
stop_pidfile() {
  local f="$1" pid
  if [[ -s "$f" ]]; then
    pid="$(cat "$f")"
    if pid_alive "$pid"; then
      log "stopping pid $pid ($(basename "$f" .pid))"
      kill "$pid" || true
      for _ in $(seq 1 100); do pid_alive "$pid" || break; sleep 0.1; done
    fi
    rm -f "$f"
  fi
}
wait_for() {  # wait_for <tries*0.2s> <cmd...>
  local n="$1"; shift
  for _ in $(seq 1 "$n"); do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; done
  return 1
}

if [[ "${STOP:-0}" == 1 ]]; then
  for d in slurmd slurmctld slurmdbd mariadbd munged; do stop_pidfile "$RUN_DIR/$d.pid"; done
  exit 0
fi

# ------------------------------------------------------------------ packages
pkgs=(munge slurmctld slurmd slurm-client)
[[ "$SLURM_ACCOUNTING" == slurmdbd ]] && pkgs+=(slurmdbd mariadb-server)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  log "apt-get install ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
fi

mkdir -p "$CONF_DIR" "$RUN_DIR" "$LOG_DIR" /var/spool/slurmctld /var/spool/slurmd \
         /run/munge /var/lib/munge /var/log/munge

# ------------------------------------------------------------------ munge
if [[ ! -s /etc/munge/munge.key ]]; then
  log "creating munge key"
  mkdir -p /etc/munge
  dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=1024 status=none
fi
chown -R munge:munge /etc/munge /run/munge /var/lib/munge /var/log/munge
chmod 0700 /etc/munge /var/lib/munge /var/log/munge
chmod 0755 /run/munge
chmod 0400 /etc/munge/munge.key
munge_ok() { munge -n | unmunge; }
if ! munge_ok >/dev/null 2>&1; then
  stop_pidfile "$RUN_DIR/munged.pid"
  log "starting munged"
  # --force: tolerate a stale socket left behind by a killed munged
  runuser -u munge -- /usr/sbin/munged --force --pid-file=/run/munge/munged.pid
  wait_for 50 munge_ok || { log "munged did not come up"; exit 1; }
  cp /run/munge/munged.pid "$RUN_DIR/munged.pid"
fi

# ------------------------------------------------------------------ accounting settings
acct_conf="AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=${LOG_DIR}/jobcomp.log"
if [[ "$SLURM_ACCOUNTING" == slurmdbd ]]; then
  acct_conf="AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
AccountingStorageTRES=gres/gpu
JobCompType=jobcomp/none"
fi

# ------------------------------------------------------------------ slurm.conf
# node topology exactly as slurmd detects it (a mismatch -> INVALID_REG/DRAIN)
node_topo=""
hw="$(slurmd -C | head -1)"
if [[ "$(sed -n 's/.* CPUs=\([0-9]*\).*/\1/p' <<<"$hw")" == "$SLURM_CPUS" ]]; then
  node_topo="$(grep -o 'SocketsPerBoard=[0-9]* CoresPerSocket=[0-9]* ThreadsPerCore=[0-9]*' <<<"$hw" \
               | sed 's/SocketsPerBoard/Sockets/')"
fi
gres_types="" gres_node=""
if ((SLURM_FAKE_GPUS > 0)); then gres_types="GresTypes=gpu"; gres_node="Gres=gpu:${SLURM_FAKE_GPUS}"; fi

conf_changed=0
install_if_changed() {  # install_if_changed <tmpfile> <dest>
  if ! cmp -s "$1" "$2"; then install -m 0644 "$1" "$2"; conf_changed=1; fi
  rm -f "$1"
}

new="$(mktemp)"
cat >"$new" <<EOF
# generated by start-slurm.sh -- single node, no systemd, no cgroups
ClusterName=localcluster
SlurmctldHost=${NODE}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=2
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=${RUN_DIR}/slurmctld.pid
SlurmdPidFile=${RUN_DIR}/slurmd.pid
SlurmctldLogFile=${LOG_DIR}/slurmctld.log
SlurmdLogFile=${LOG_DIR}/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ReturnToService=2
# finished jobs stay visible to squeue for 10 min (snakemake's squeue status)
MinJobAge=600
# without --mem a job would get the whole node's memory and serialise the queue
DefMemPerCPU=1000
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=30
${acct_conf}
${gres_types}
NodeName=${NODE} NodeAddr=127.0.0.1 CPUs=${SLURM_CPUS} ${node_topo} RealMemory=${SLURM_MEM_MB} ${gres_node} State=UNKNOWN
PartitionName=main Nodes=${NODE} Default=YES MaxTime=INFINITE State=UP
PartitionName=gpu  Nodes=${NODE} Default=NO  MaxTime=INFINITE State=UP
EOF
install_if_changed "$new" "$CONF_DIR/slurm.conf"

new="$(mktemp)"
if ((SLURM_FAKE_GPUS > 0)); then
  for ((i = 0; i < SLURM_FAKE_GPUS; i++)); do : >"$RUN_DIR/fake-gpu$i"; done
  printf 'NodeName=%s Name=gpu File=%s/fake-gpu[0-%d]\n' \
    "$NODE" "$RUN_DIR" "$((SLURM_FAKE_GPUS - 1))" >"$new"
fi
install_if_changed "$new" "$CONF_DIR/gres.conf"

# ------------------------------------------------------------------ accounting daemons
if [[ "$SLURM_ACCOUNTING" == slurmdbd ]]; then
  # MariaDB, by hand (no systemd): loopback only
  mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld
  if [[ ! -d /var/lib/mysql/mysql ]]; then
    log "initialising MariaDB data dir"
    mariadb-install-db --user=mysql --datadir=/var/lib/mysql >/dev/null
  fi
  if ! mariadb-admin ping >/dev/null 2>&1; then
    stop_pidfile "$RUN_DIR/mariadbd.pid"
    log "starting mariadbd"
    setsid /usr/sbin/mariadbd --user=mysql --bind-address=127.0.0.1 \
      --pid-file=/run/mysqld/mysqld.pid --socket=/run/mysqld/mysqld.sock \
      --innodb-buffer-pool-size=128M --innodb-lock-wait-timeout=900 >"$LOG_DIR/mariadbd.log" 2>&1 </dev/null &
    wait_for 150 mariadb-admin ping || { log "mariadbd did not come up"; tail "$LOG_DIR/mariadbd.log"; exit 1; }
    cp /run/mysqld/mysqld.pid "$RUN_DIR/mariadbd.pid"
  fi
  mariadb -e "CREATE DATABASE IF NOT EXISTS slurm_acct_db;
    CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY '${DB_PASS}';
    GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost'; FLUSH PRIVILEGES;"

  dbd_new="$(mktemp)"
  cat >"$dbd_new" <<EOF
# generated by start-slurm.sh
AuthType=auth/munge
DbdHost=localhost
DbdAddr=127.0.0.1
SlurmUser=root
PidFile=${RUN_DIR}/slurmdbd.pid
LogFile=${LOG_DIR}/slurmdbd.log
StorageType=accounting_storage/mysql
StorageHost=localhost
StorageLoc=slurm_acct_db
StorageUser=slurm
StoragePass=${DB_PASS}
EOF
  if ! cmp -s "$dbd_new" "$CONF_DIR/slurmdbd.conf"; then
    install -m 0600 -o root "$dbd_new" "$CONF_DIR/slurmdbd.conf"
    stop_pidfile "$RUN_DIR/slurmdbd.pid"
  fi
  rm -f "$dbd_new"
  if ! alive "$RUN_DIR/slurmdbd.pid"; then
    log "starting slurmdbd"
    /usr/sbin/slurmdbd
    wait_for 100 sacctmgr -n list cluster || { log "slurmdbd not up"; tail "$LOG_DIR/slurmdbd.log"; exit 1; }
  fi
else
  stop_pidfile "$RUN_DIR/slurmdbd.pid"
fi

# ------------------------------------------------------------------ slurm daemons
if ((conf_changed)); then
  log "config changed: (re)starting slurmctld/slurmd"
  stop_pidfile "$RUN_DIR/slurmd.pid"
  stop_pidfile "$RUN_DIR/slurmctld.pid"
fi
if ! alive "$RUN_DIR/slurmctld.pid"; then
  log "starting slurmctld"
  /usr/sbin/slurmctld -c     # -c: drop saved state (stale jobs/node states)
fi
ctl_up() { scontrol ping | grep -q 'is UP'; }
wait_for 100 ctl_up || { log "slurmctld not up"; tail -20 "$LOG_DIR/slurmctld.log"; exit 1; }
if ! alive "$RUN_DIR/slurmd.pid"; then
  log "starting slurmd"
  /usr/sbin/slurmd
fi

node_state() { sinfo -h -n "$NODE" -o '%T' 2>/dev/null | head -1; }
node_ready() { case "$(node_state)" in idle* | mix* | alloc*) return 0 ;; esac; return 1; }
if ! wait_for 75 node_ready; then
  scontrol update nodename="$NODE" state=resume 2>/dev/null || true   # DOWN/DRAIN leftovers
  wait_for 25 node_ready || { log "node state: $(node_state)"; tail -20 "$LOG_DIR/slurmd.log"; exit 1; }
fi
log "node $NODE is $(node_state); accounting: $SLURM_ACCOUNTING"
sinfo
