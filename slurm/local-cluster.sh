#!/usr/bin/env bash
# A real single-node SLURM cluster on this machine, from Debian's packages:
# munge, MariaDB + slurmdbd (so that sacct works), slurmctld and slurmd.
# Runs as root without systemd; every file lives under $ATTNXFER_SLURM_DIR.
#
#   slurm/local-cluster.sh start     # install what is missing, configure, start, wait until the node is idle
#   slurm/local-cluster.sh stop      # stop the daemons by the PIDs in their pidfiles, in reverse order
#   slurm/local-cluster.sh status    # which daemons run; sinfo
#   slurm/local-cluster.sh env       # prints `export SLURM_CONF=...` for sbatch/sacct/submitit
#
# Client commands find the cluster through SLURM_CONF (the script never writes /etc/slurm).
set -euo pipefail

STATE=${ATTNXFER_SLURM_DIR:-/tmp/attnxfer-slurm}
ETC=$STATE/etc
CONF=$ETC/slurm.conf
PACKAGES="slurmctld slurmd slurm-client munge slurmdbd mariadb-server"
NODE=$(hostname -s)
DB_PASS=attnxfer-local
export SLURM_CONF=$CONF

say() { echo "local-cluster: $*" >&2; }
die() { say "$*"; exit 1; }

pid_of() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null && cat "$1"; }

wait_for() {  # wait_for SECONDS DESCRIPTION COMMAND...
    local limit=$1 what=$2; shift 2
    for _ in $(seq 1 $((limit * 4))); do
        if "$@" >/dev/null 2>&1; then return 0; fi
        sleep 0.25
    done
    die "timed out waiting for $what (logs: $STATE/log)"
}

install_packages() {
    local missing=""
    for pkg in $PACKAGES; do dpkg -s "$pkg" >/dev/null 2>&1 || missing="$missing $pkg"; done
    [ -z "$missing" ] && return 0
    say "installing$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q $missing >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q $missing >/dev/null; }
}

write_configs() {
    local cpus mem
    cpus=$(nproc)
    mem=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 - 1024 ))
    mkdir -p "$ETC" "$STATE/log" "$STATE/ctld" "$STATE/spool"
    cat > "$CONF" <<CONF
# written by attnxfer slurm/local-cluster.sh
ClusterName=attnxfer
SlurmctldHost=$NODE(127.0.0.1)
SlurmUser=root
AuthType=auth/munge
AuthInfo=cred_expire=10
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/spool
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmctldLogFile=$STATE/log/slurmctld.log
SlurmdLogFile=$STATE/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MailProg=/bin/true
ReturnToService=2
SchedulerParameters=batch_sched_delay=0,sched_interval=2,bf_interval=2
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MinJobAge=300
KillWait=5
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
    cat > "$ETC/slurmdbd.conf" <<CONF
AuthType=auth/munge
DbdHost=localhost
SlurmUser=root
PidFile=$STATE/slurmdbd.pid
LogFile=$STATE/log/slurmdbd.log
StorageType=accounting_storage/mysql
StorageHost=localhost
StorageUser=slurm
StoragePass=$DB_PASS
StorageLoc=slurm_acct_db
CONF
    chmod 600 "$ETC/slurmdbd.conf"
}

start_munge() {
    [ -n "$(pid_of /run/munge/munged.pid)" ] && return 0
    mkdir -p /run/munge /etc/munge
    chown munge:munge /run/munge
    if [ ! -s /etc/munge/munge.key ]; then mungekey --create --keyfile /etc/munge/munge.key; fi
    chown munge:munge /etc/munge/munge.key && chmod 400 /etc/munge/munge.key
    runuser -u munge -- /usr/sbin/munged
    wait_for 10 munged munge -n
}

start_mariadb() {
    [ -n "$(pid_of "$STATE/mariadb/mariadbd.pid")" ] && return 0
    mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld
    if [ ! -d "$STATE/mysql/mysql" ]; then
        mkdir -p "$STATE/mysql" && chown mysql:mysql "$STATE/mysql"
        mariadb-install-db --user=mysql --datadir="$STATE/mysql" --auth-root-authentication-method=socket \
            >"$STATE/log/mariadb-install.log" 2>&1 \
            || die "mariadb-install-db failed (is $STATE readable by the mysql user?): $(tail -3 "$STATE/log/mariadb-install.log")"
    fi
    mkdir -p "$STATE/mariadb" && chown mysql:mysql "$STATE/mariadb"  # pid and log, writable by mysql
    mariadbd --user=mysql --datadir="$STATE/mysql" --socket=/run/mysqld/mysqld.sock --skip-networking \
        --pid-file="$STATE/mariadb/mariadbd.pid" --log-error="$STATE/mariadb/mariadbd.log" >/dev/null 2>&1 &
    wait_for 30 "mariadbd ($(tail -2 "$STATE/mariadb/mariadbd.log" 2>/dev/null))" mariadb --socket=/run/mysqld/mysqld.sock -e "SELECT 1"
    mariadb --socket=/run/mysqld/mysqld.sock -e "CREATE DATABASE IF NOT EXISTS slurm_acct_db;
        CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY '$DB_PASS';
        GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost'; FLUSH PRIVILEGES;"
}

start() {
    [ "$(id -u)" = 0 ] || die "must run as root (it starts system daemons)"
    install_packages
    write_configs
    start_munge
    start_mariadb
    [ -n "$(pid_of "$STATE/slurmdbd.pid")" ] || /usr/sbin/slurmdbd
    wait_for 30 slurmdbd sacctmgr -i show cluster
    [ -n "$(pid_of "$STATE/slurmctld.pid")" ] || /usr/sbin/slurmctld -f "$CONF"
    wait_for 30 slurmctld scontrol ping
    [ -n "$(pid_of "$STATE/slurmd.pid")" ] || /usr/sbin/slurmd -f "$CONF"
    wait_for 30 "node $NODE" sh -c "sinfo -h -n $NODE -o %t | grep -Eq '^(idle|mix|alloc)'"
    say "up: $(sinfo -h -o '%P %D %t %c CPUs %m MB')"
    say "client commands need: export SLURM_CONF=$CONF"
}

stop_pid() {  # stop_pid PIDFILE NAME
    local pid
    pid=$(pid_of "$1") || return 0
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || { rm -f "$1"; return 0; }; sleep 0.25; done
    say "$2 did not stop in 10 s; killing it"
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$1"
}

stop() {
    stop_pid "$STATE/slurmd.pid" slurmd
    stop_pid "$STATE/slurmctld.pid" slurmctld
    stop_pid "$STATE/slurmdbd.pid" slurmdbd
    stop_pid "$STATE/mariadb/mariadbd.pid" mariadbd
    stop_pid /run/munge/munged.pid munged
    say "stopped"
}

status() {
    local name file
    for name in munged mariadbd slurmdbd slurmctld slurmd; do
        case $name in munged) file=/run/munge/munged.pid ;; mariadbd) file=$STATE/mariadb/mariadbd.pid ;; *) file=$STATE/$name.pid ;; esac
        if pid=$(pid_of "$file"); then echo "$name running (pid $pid)"; else echo "$name stopped"; fi
    done
    [ -f "$CONF" ] && sinfo 2>/dev/null || true
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    status) status ;;
    env) echo "export SLURM_CONF=$CONF" ;;
    *) echo "usage: $0 start|stop|status|env" >&2; exit 2 ;;
esac
