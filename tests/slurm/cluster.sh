#!/usr/bin/env bash
# A throwaway one-node SLURM cluster with accounting, for testing the SLURM
# profile (workflow/profiles/slurm) on a machine without a cluster.
#
#   bash tests/slurm/cluster.sh install   # apt-get the packages (idempotent)
#   bash tests/slurm/cluster.sh start     # configs + daemons under $NTPIPE_SLURM_DIR
#   export SLURM_CONF=$NTPIPE_SLURM_DIR/etc/slurm.conf   # for sbatch/sacct/sinfo
#   bash tests/slurm/cluster.sh stop      # stop the daemons, delete the directory
#
# Needs root (Debian/Ubuntu). All state lives in NTPIPE_SLURM_DIR (default
# /tmp/ntpipe-slurm), linked from /etc/slurm/slurm.conf while running (see
# link_default_conf): slurm.conf, slurmdbd.conf, spool, logs, and a private
# MariaDB instance on 127.0.0.1:$NTPIPE_SLURM_DB_PORT for slurmdbd. The
# Snakemake SLURM plugin polls job states with sacct, so accounting is needed.
# The system's munged is used (started if not running, stopped only if
# started here). Ports are SLURM's defaults: 6817 (ctld), 6818 (d), 6819 (dbd).
set -euo pipefail

DIR=${NTPIPE_SLURM_DIR:-/tmp/ntpipe-slurm}
DB_PORT=${NTPIPE_SLURM_DB_PORT:-3307}
CLUSTER=ntpipe
# What the node claims to have, so that the shipped profile's requests
# (--gpus=1, --cpus-per-gpu, --mem) are accepted unchanged on a small machine
# without a GPU: NTPIPE_SLURM_GPUS fake GPUs (empty device files), and at least
# NTPIPE_SLURM_CPUS CPUs and NTPIPE_SLURM_MEM_MB memory (the real values if
# larger). Jobs then share the real cores; fine for test-scale runs.
FAKE_GPUS=${NTPIPE_SLURM_GPUS:-2}
FAKE_CPUS=${NTPIPE_SLURM_CPUS:-32}
FAKE_MEM_MB=${NTPIPE_SLURM_MEM_MB:-256000}
ACCOUNT=ntpipe
PACKAGES=(slurm-wlm slurm-client slurmdbd munge mariadb-server mariadb-client)
export SLURM_CONF=$DIR/etc/slurm.conf
DEFAULT_CONF=/etc/slurm/slurm.conf

log() { echo "[cluster.sh] $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# wait_for SECONDS DESCRIPTION COMMAND...: retry COMMAND once a second.
wait_for() {
    local timeout=$1 what=$2
    shift 2
    for _ in $(seq "$timeout"); do
        if "$@" >/dev/null 2>&1; then return 0; fi
        sleep 1
    done
    die "timed out after ${timeout}s waiting for $what (logs: $DIR/log)"
}

install() {
    local missing=()
    for cmd in slurmctld slurmd slurmdbd sbatch sacct sacctmgr munged mariadbd mariadb-install-db; do
        command -v "$cmd" >/dev/null || missing+=("$cmd")
    done
    if ((${#missing[@]} == 0)); then
        log "packages already installed"
        return
    fi
    log "installing ${PACKAGES[*]} (missing: ${missing[*]})"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}" >/dev/null
}

write_configs() {
    local host real_cpus real_mem cpus mem
    host=$(hostname -s)
    # The machine's real CPUs and memory, from e.g.
    # "NodeName=vm CPUs=2 Boards=1 ... RealMemory=24105"
    real_cpus=$(slurmd -C | head -n 1 | sed -E 's/.* CPUs=([0-9]+).*/\1/')
    real_mem=$(slurmd -C | head -n 1 | sed -E 's/.* RealMemory=([0-9]+).*/\1/')
    cpus=$(( FAKE_CPUS > real_cpus ? FAKE_CPUS : real_cpus ))
    mem=$(( FAKE_MEM_MB > real_mem ? FAKE_MEM_MB : real_mem ))
    mkdir -p "$DIR"/{etc,state,spool,log,run}
    cat > "$DIR/etc/slurm.conf" <<CONF
ClusterName=$CLUSTER
SlurmctldHost=$(hostname -s)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/run/slurmctld.pid
SlurmdPidFile=$DIR/run/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
# No cgroups in a container: track processes by parent PID, no task binding.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SchedulerType=sched/backfill
MpiDefault=none
ReturnToService=2
# The node may claim more than the machine has (see FAKE_* above).
SlurmdParameters=config_overrides
GresTypes=gpu
JobAcctGatherType=jobacct_gather/linux
# Record GPU allocations too, so sacct shows them (AllocTRES).
AccountingStorageTRES=gres/gpu
# Keep the job comment, where the Snakemake plugin names the rule (sacct -o Comment).
AccountingStoreFlags=job_comment
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=$(hostname -s)
AccountingStoragePort=6819
JobCompType=jobcomp/none
MinJobAge=300
NodeName=$host CPUs=$cpus RealMemory=$mem Gres=gpu:$FAKE_GPUS State=UNKNOWN
PartitionName=main Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
    # Fake GPUs: SLURM drops file-less GPU gres, so point it at empty files.
    # Jobs asking --gpus=N are scheduled and get CUDA_VISIBLE_DEVICES, but
    # there is no CUDA device, so ntpipe runs them on the CPU.
    mkdir -p "$DIR/dev"
    for i in $(seq 0 $((FAKE_GPUS - 1))); do
        touch "$DIR/dev/gpu$i"
        echo "NodeName=$host Name=gpu File=$DIR/dev/gpu$i"
    done > "$DIR/etc/gres.conf"
    cat > "$DIR/etc/slurmdbd.conf" <<CONF
AuthType=auth/munge
DbdHost=$(hostname -s)
DbdPort=6819
SlurmUser=root
LogFile=$DIR/log/slurmdbd.log
PidFile=$DIR/run/slurmdbd.pid
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=$DB_PORT
StorageUser=slurm
StoragePass=slurm
StorageLoc=slurm_acct_db
CONF
    # slurmdbd refuses a config readable by others or not owned by SlurmUser.
    chown root:root "$DIR/etc/slurmdbd.conf"
    chmod 600 "$DIR/etc/slurmdbd.conf"
}

start_mariadb() {
    local sql=(mariadb --no-defaults --socket="$DIR/mysql.sock" -u root)
    if [[ ! -d $DIR/mysql ]]; then
        mariadb-install-db --no-defaults --datadir="$DIR/mysql" --user=root \
            >"$DIR/log/mariadb-install.log" 2>&1
    fi
    mariadbd --no-defaults --user=root --datadir="$DIR/mysql" \
        --socket="$DIR/mysql.sock" --pid-file="$DIR/run/mariadb.pid" \
        --port="$DB_PORT" --bind-address=127.0.0.1 --skip-name-resolve \
        --log-error="$DIR/log/mariadb.log" >/dev/null 2>&1 &
    wait_for 60 "MariaDB" "${sql[@]}" -e "SELECT 1"
    "${sql[@]}" -e "CREATE USER IF NOT EXISTS 'slurm'@'127.0.0.1' IDENTIFIED BY 'slurm';
        GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1'; FLUSH PRIVILEGES;"
}

start_munge() {
    if munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
        return
    fi
    mkdir -p /run/munge /var/log/munge
    [[ -s /etc/munge/munge.key ]] || mungekey --create --keyfile=/etc/munge/munge.key
    # --force: munged refuses to run as root otherwise.
    munged --force
    touch "$DIR/run/munged.ours"
    wait_for 20 "munged" bash -c "munge -n | unmunge"
}

start() {
    [[ $EUID -eq 0 ]] || die "start needs root"
    if [[ -e $DIR/run/slurmctld.pid ]]; then
        log "a cluster seems to be running in $DIR; stopping it first"
        stop
    fi
    write_configs
    start_mariadb
    start_munge
    slurmdbd
    wait_for 60 "slurmdbd" sacctmgr -n list cluster
    sacctmgr -i add cluster "$CLUSTER" >/dev/null || true
    sacctmgr -i add account "$ACCOUNT" cluster="$CLUSTER" \
        description=ntpipe-tests organization=ntpipe >/dev/null || true
    sacctmgr -i add user "$(id -un)" account="$ACCOUNT" cluster="$CLUSTER" >/dev/null || true
    wait_for 10 "the accounting association" \
        bash -c "sacctmgr -n -P list assoc user=$(id -un) format=account | grep -qx $ACCOUNT"
    link_default_conf
    slurmctld -c
    slurmd
    wait_for 60 "the node to be idle" \
        bash -c "sinfo -h -N -o %T | grep -qx idle"
    log "cluster up: $(sinfo -h -N -o '%N %T %c CPUs %m MB')"
    log "export SLURM_CONF=$SLURM_CONF"
}

# Inside a job, the SLURM jobstep plugin clears every SLURM_* variable,
# SLURM_CONF included, before it calls srun; so srun finds the config only at
# the default path. Link it there, unless a real config is in the way.
link_default_conf() {
    if [[ -e $DEFAULT_CONF && ! -L $DEFAULT_CONF ]]; then
        die "$DEFAULT_CONF exists and is not ours; stop that cluster or move it away"
    fi
    mkdir -p "$(dirname "$DEFAULT_CONF")"
    ln -sfn "$SLURM_CONF" "$DEFAULT_CONF"
}

# kill_pidfile FILE: SIGTERM the process named in FILE and wait for it to exit.
kill_pidfile() {
    local pid
    [[ -s $1 ]] || return 0
    pid=$(cat "$1")
    kill "$pid" 2>/dev/null || return 0
    for _ in $(seq 30); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 1
    done
    kill -9 "$pid" 2>/dev/null || true
}

stop() {
    if [[ -e $SLURM_CONF ]]; then
        scancel --full --user="$(id -un)" 2>/dev/null || true
    fi
    kill_pidfile "$DIR/run/slurmd.pid"
    kill_pidfile "$DIR/run/slurmctld.pid"
    kill_pidfile "$DIR/run/slurmdbd.pid"
    kill_pidfile "$DIR/run/mariadb.pid"
    if [[ -e $DIR/run/munged.ours ]]; then
        kill_pidfile /run/munge/munged.pid
    fi
    if [[ $(readlink "$DEFAULT_CONF" 2>/dev/null) == "$SLURM_CONF" ]]; then
        rm -f "$DEFAULT_CONF"
    fi
    if [[ ${NTPIPE_SLURM_KEEP:-0} == 1 ]]; then
        log "stopped; kept $DIR"
    else
        rm -rf "$DIR"
        log "stopped; removed $DIR"
    fi
}

case ${1:-} in
    install) install ;;
    start) start ;;
    stop) stop ;;
    *) echo "usage: $0 install|start|stop" >&2; exit 2 ;;
esac
