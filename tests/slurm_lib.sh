# tests/slurm_lib.sh: a private, single-node Slurm (munged, slurmctld, slurmd) for the t_slurm_*.sh
# tests, sourced by them. Everything lives under one directory: the munge key and socket, a generated
# slurm.conf, state, spool, logs and PID files; the daemons listen on free ports (never 6817/6818).
# No systemd, no cgroups: proctrack/linuxproc, task/none. Needs root (slurmd runs jobs as their user,
# munged and slurmd run as root here) and Debian's munge, slurmctld, slurmd, slurm-client.
#
#   slurm_can_start            exit status 0 if it can; otherwise prints why (for a skip line)
#   slurm_start DIR [accounting]
#                              starts the three daemons, waits for the node to be idle; sets and
#                              exports SLURM_CONF (clients and jobs use it); returns 1 on failure
#                              (and prints the daemons' logs). With "accounting", and where
#                              mariadb-server and slurmdbd are installed, also a private MariaDB
#                              (datadir, socket and TCP port under DIR) and slurmdbd, so that
#                              sacct reads real accounting (SLURM_ACCOUNTING=slurmdbd); else
#                              SLURM_ACCOUNTING=jobcomp: sacct -c reads the job completion log
#   slurm_stop                 stops the daemons started here, by PID, and waits for them; safe to
#                              call twice; call it from an EXIT trap
#   slurm_logs                 prints the tail of each daemon's log
#   slurm_wait_job ID SECS     waits until job ID has left the queue (squeue), up to SECS seconds
#   slurm_job_field ID KEY     the value of KEY=... in `scontrol show job ID` (e.g. JobState, Restarts)
#   slurm_sacct ID             sacct lines of a job: every run of it (--duplicates) from slurmdbd,
#                              or from the job completion log (sacct -c)
#
# A cluster of N nodes on this one machine (tests/t_slurm_cluster.sh): each node a network
# namespace with its own address on a private bridge, its own hostname (UTS namespace) and
# mount namespace (a node-local directory, a private /etc/hosts, paths read-only there), one
# slurmd per node; munged, slurmctld (and slurmdbd) in the root namespace as above.
#   slurm_can_start_cluster    exit status 0 if it can (root, ip, unshare, a namespace can be
#                              made); otherwise prints why
#   slurm_start_cluster DIR N [accounting] [--ro PATH]...
#                              nodes node1..nodeN at $SLURM_NET.1..N, slurmctld at $SLURM_NET.254
#                              (the bridge); PATH is bind-mounted read-only on node2..nodeN (node1,
#                              the first of every allocation, where rank 0 runs, keeps it writable);
#                              waits for every node to be idle; returns 1 on failure
#   slurm_node_kill K          the node is lost: kill -9 every process in node K's namespace
#                              (slurmd, slurmstepd, the job's processes), until none is left
#   slurm_node_start K         starts node K's slurmd again (after slurm_node_kill)
#   slurm_node_pids K          the live processes in node K's namespace
#   slurm_node_ns K            the name of node K's network namespace

SLURM_DIR=""
SLURM_PIDS=""
SLURM_ACCOUNTING=jobcomp
# the cluster's: the number of nodes, the /24 of the bridge (e.g. 10.201.7), the names of the
# namespaces and links made here (a per-run suffix: two test runs at once must not collide),
# the paths read-only on node2..N
SLURM_NODES=0
SLURM_NET=""
SLURM_NS_PREFIX="slurmtest-$$-node"
SLURM_BRIDGE=""
SLURM_RO_PATHS=""

slurm_can_start() {
    if [ "$(id -u)" -ne 0 ]; then
        echo "not root: a private slurmd and munged need root"
        return 1
    fi
    for p in munged slurmctld slurmd sbatch squeue sinfo scontrol scancel sacct; do
        if ! command -v "$p" >/dev/null 2>&1 && [ ! -x "/usr/sbin/$p" ]; then
            echo "$p is missing: install munge slurmctld slurmd slurm-client (sh install-deps.sh)"
            return 1
        fi
    done
    return 0
}

# a TCP port nobody uses (/proc/net/tcp*), from a range away from Slurm's defaults
_slurm_free_port() {
    used=$(awk 'FNR > 1 { split($2, a, ":"); print a[2] }' /proc/net/tcp /proc/net/tcp6 2>/dev/null)
    p=$(( 20000 + ($$ * 7 + $1 * 131) % 20000 ))
    while printf '%s\n' "$used" | grep -qix "$(printf '%04X' "$p")"; do p=$((p + 1)); done
    echo "$p"
}

_slurm_bin() { command -v "$1" 2>/dev/null || echo "/usr/sbin/$1"; }

slurm_logs() {
    for f in munged.log mariadb.err slurmdbd.log slurmctld.log slurmd.log; do
        [ -f "$SLURM_DIR/$f" ] || continue
        echo "---- $f (last 30 lines)"
        tail -n 30 "$SLURM_DIR/$f"
    done
    for f in "$SLURM_DIR"/nodes/*/slurmd.log; do
        [ -f "$f" ] || continue
        echo "---- ${f#"$SLURM_DIR/"} (last 20 lines)"
        tail -n 20 "$f"
    done
}

# _slurm_wait_pidfile FILE SECS: the PID written by a daemonizing program
_slurm_wait_pidfile() {
    i=0
    while [ $i -lt $(($2 * 10)) ]; do
        if [ -s "$1" ]; then
            pid=$(cat "$1")
            if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then echo "$pid"; return 0; fi
        fi
        sleep 0.1
        i=$((i + 1))
    done
    return 1
}

# _slurm_start_munge DIR: munged with its own key, socket, PID and log
_slurm_start_munge() {
    d=$1
    mkdir -p "$d/munge"
    chmod 755 "$d/munge"   # the key inside is 600
    if command -v mungekey >/dev/null 2>&1 || [ -x /usr/sbin/mungekey ]; then
        "$(_slurm_bin mungekey)" --create --keyfile="$d/munge/munge.key" >/dev/null 2>&1
    fi
    [ -s "$d/munge/munge.key" ] || dd if=/dev/urandom of="$d/munge/munge.key" bs=1024 count=1 2>/dev/null
    chmod 600 "$d/munge/munge.key"
    "$(_slurm_bin munged)" --force --key-file="$d/munge/munge.key" --socket="$d/munge/munge.sock" \
        --pid-file="$d/munge/munged.pid" --log-file="$d/munged.log" --seed-file="$d/munge/munged.seed" \
        >"$d/munged.out" 2>&1
    if ! pid=$(_slurm_wait_pidfile "$d/munge/munged.pid" 20); then
        echo "slurm_lib: munged did not start:"; cat "$d/munged.out"; slurm_logs; return 1
    fi
    SLURM_PIDS="$SLURM_PIDS $pid"
}

# _slurm_write_conf DIR NODEDIR CTLD_ADDR SLURMD_TIMEOUT MESSAGE_TIMEOUT [accounting]: slurm.conf and the
# accounting (slurmdbd where asked for and installed); NODEDIR holds what is slurmd's own (spool,
# PID file, log, TmpFS); the node lines are appended by the caller. Sets and exports SLURM_CONF.
_slurm_write_conf() {
    d=$1 nd=$2 ctld_addr=$3 slurmd_timeout=$4 message_timeout=$5
    ctld_port=$(_slurm_free_port 1)
    slurmd_port=$(_slurm_free_port 2)
    [ "$slurmd_port" != "$ctld_port" ] || slurmd_port=$((ctld_port + 1))
    # Two private Slurms at once (two clones' test suites on one host) must share nothing: mpi/pmix
    # names each step's client directory TmpFS/spmix_appdir_UID_JOB.STEP, so with TmpFS=/tmp and
    # both numbering jobs from 1, the second step's slurmstepd failed in mpi_g_slurmstepd_prefork.
    # TmpFS is private and job ids start at a number of this shell's own as well.
    first_job=$(( 1000 + ($$ % 50000) * 10 ))
    accounting="AccountingStorageType=accounting_storage/none"
    SLURM_ACCOUNTING=jobcomp
    if [ "${6:-}" = accounting ] && _slurm_have_dbd; then
        _slurm_start_dbd "$d" || return 1
        accounting="AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=127.0.0.1
AccountingStoragePort=$dbd_port
AccountingStoragePass=$d/munge/munge.sock"
        SLURM_ACCOUNTING=slurmdbd
    fi
    cat >"$d/slurm.conf" <<EOS
# generated by tests/slurm_lib.sh: a private Slurm for the tests
ClusterName=tests
SlurmctldHost=$(hostname -s)($ctld_addr)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$d/munge/munge.sock
StateSaveLocation=$d/state
SlurmdSpoolDir=$nd/spool
TmpFS=$nd/tmp
FirstJobId=$first_job
SlurmctldPidFile=$d/slurmctld.pid
SlurmdPidFile=$nd/slurmd.pid
SlurmctldLogFile=$d/slurmctld.log
SlurmdLogFile=$nd/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
$accounting
JobCompType=jobcomp/filetxt
JobCompLoc=$d/jobcomp.log
MpiDefault=none
SwitchType=switch/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
JobRequeue=1
ReturnToService=2
KillWait=10
MinJobAge=300
SlurmctldTimeout=30
SlurmdTimeout=$slurmd_timeout
MessageTimeout=$message_timeout
InactiveLimit=0
Waittime=0
PlugStackConfig=$d/plugstack.conf
EOS
    : >"$d/plugstack.conf"
    SLURM_CONF=$d/slurm.conf
    export SLURM_CONF
}

# _slurm_start_ctld DIR: (the cluster in the accounting database first) slurmctld
_slurm_start_ctld() {
    d=$1
    if [ "$SLURM_ACCOUNTING" = slurmdbd ]; then
        # the cluster in the accounting database, before slurmctld registers with it
        i=0
        until sacctmgr -i add cluster tests >"$d/sacctmgr.out" 2>&1; do
            i=$((i + 1))
            if [ $i -ge 60 ]; then
                echo "slurm_lib: sacctmgr cannot add the cluster:"; cat "$d/sacctmgr.out"; slurm_logs; return 1
            fi
            sleep 0.5
        done
    fi
    "$(_slurm_bin slurmctld)" -f "$SLURM_CONF" >"$d/slurmctld.out" 2>&1
    if ! pid=$(_slurm_wait_pidfile "$d/slurmctld.pid" 30); then
        echo "slurm_lib: slurmctld did not start:"; cat "$d/slurmctld.out"; slurm_logs; return 1
    fi
    SLURM_PIDS="$SLURM_PIDS $pid"
}

# _slurm_wait_idle N: until sinfo shows N nodes idle (60 s)
_slurm_wait_idle() {
    i=0
    while [ $i -lt 600 ]; do
        idle=$(sinfo -h -N -o '%T' 2>/dev/null | grep -cx idle)
        [ "$idle" -eq "$1" ] && return 0
        sleep 0.1
        i=$((i + 1))
    done
    echo "slurm_lib: $idle of $1 nodes idle after 60 s:"
    sinfo -N -l 2>&1
    slurm_logs
    return 1
}

slurm_start() {
    SLURM_DIR=$1
    d=$SLURM_DIR
    mkdir -p "$d/state" "$d/spool" "$d/tmp"
    host=$(hostname -s)
    _slurm_start_munge "$d" || return 1
    _slurm_write_conf "$d" "$d" 127.0.0.1 60 10 "${2:-}" || return 1
    cat >>"$SLURM_CONF" <<EOS
NodeName=$host NodeAddr=127.0.0.1 CPUs=$(nproc) State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
EOS
    _slurm_start_ctld "$d" || return 1
    "$(_slurm_bin slurmd)" -f "$SLURM_CONF" -N "$host" >"$d/slurmd.out" 2>&1
    if ! pid=$(_slurm_wait_pidfile "$d/slurmd.pid" 30); then
        echo "slurm_lib: slurmd did not start:"; cat "$d/slurmd.out"; slurm_logs; return 1
    fi
    SLURM_PIDS="$SLURM_PIDS $pid"
    _slurm_wait_idle 1
}

# ----------------------------------------------------------------------------
# the cluster: nodes in network namespaces

slurm_can_start_cluster() {
    slurm_can_start || return 1
    for p in ip nsenter unshare mount hostname; do
        command -v "$p" >/dev/null 2>&1 || { echo "$p is missing (iproute2, util-linux)"; return 1; }
    done
    probe=${SLURM_NS_PREFIX}probe
    if ! out=$(ip netns add "$probe" 2>&1); then
        echo "cannot make a network namespace here (ip netns add: $out)"
        return 1
    fi
    ok=1
    nsenter --net="/run/netns/$probe" unshare --uts --mount sh -c 'hostname probe' >/dev/null 2>&1 || ok=0
    ip netns del "$probe"
    [ $ok -eq 1 ] || { echo "cannot give a namespace its own hostname and mounts (unshare --uts --mount)"; return 1; }
}

slurm_node_ns() { echo "$SLURM_NS_PREFIX$1"; }

# a /24 in 10.201.0.0/16 that no interface or route here uses
_slurm_pick_net() {
    used=$(ip -o -4 addr show 2>/dev/null; ip -4 route show table all 2>/dev/null)
    i=0
    while [ $i -lt 250 ]; do
        k=$(( ($$ + i) % 250 + 1 ))
        if ! printf '%s\n' "$used" | grep -q "10\.201\.$k\.[0-9]"; then echo "10.201.$k"; return 0; fi
        i=$((i + 1))
    done
    return 1
}

# _slurm_net_up N: the bridge (its address .254 is slurmctld's, in this namespace) and N
# namespaces, each with lo and one veth on the bridge (eth0 inside, address .K)
_slurm_net_up() {
    SLURM_NET=$(_slurm_pick_net) || { echo "slurm_lib: no free /24 in 10.201.0.0/16"; return 1; }
    SLURM_BRIDGE="slb$$"   # link names have at most 15 characters
    ip link add "$SLURM_BRIDGE" type bridge && ip addr add "$SLURM_NET.254/24" dev "$SLURM_BRIDGE" &&
        ip link set "$SLURM_BRIDGE" up || { echo "slurm_lib: cannot make the bridge $SLURM_BRIDGE"; return 1; }
    k=1
    while [ $k -le "$1" ]; do
        ns=$(slurm_node_ns $k)
        ip netns add "$ns" && SLURM_NODES=$k &&
            ip link add "slv$$n$k" type veth peer name "slp$$n$k" &&
            ip link set "slp$$n$k" netns "$ns" && ip -n "$ns" link set "slp$$n$k" name eth0 &&
            ip link set "slv$$n$k" master "$SLURM_BRIDGE" && ip link set "slv$$n$k" up &&
            ip -n "$ns" addr add "$SLURM_NET.$k/24" dev eth0 && ip -n "$ns" link set eth0 up &&
            ip -n "$ns" link set lo up || { echo "slurm_lib: cannot make node $k's namespace $ns"; return 1; }
        k=$((k + 1))
    done
}

# slurm_node_start K: node K's slurmd in its namespace, under its own hostname (steps inherit
# it: `hostname` in a job names the node, and Open MPI sees ranks of different nodes on
# different hosts), with its own mounts: DIR/nodes/nodeK as DIR/local (its spool, log, PID file
# and TmpFS: node-local, as on a real cluster; pmix's per-step directories must not be shared),
# a private /etc/hosts naming the nodes, and on node2..N the read-only paths.
slurm_node_start() {
    k=$1
    d=$SLURM_DIR
    nd=$d/nodes/node$k
    mkdir -p "$nd/spool" "$nd/tmp"
    rm -f "$nd/slurmd.pid"
    ro=""
    [ "$k" -eq 1 ] || ro=$SLURM_RO_PATHS
    # nsenter, not `ip netns exec`: that one remounts /sys for the namespace, which takes
    # /sys/fs/cgroup away, and slurmd 22.05 will not start without its cgroup plugin
    # shellcheck disable=SC2016,SC2086 # (the inner script's own variables; the paths split on purpose)
    nsenter --net="/run/netns/$(slurm_node_ns "$k")" unshare --uts --mount sh -c '
        node=$1 nd=$2 d=$3 slurmd=$4
        shift 4
        hostname "$node" && mount --bind "$nd" "$d/local" && mount --bind "$d/hosts" /etc/hosts || exit 1
        for p in "$@"; do mount --bind -o ro "$p" "$p" || exit 1; done
        exec "$slurmd" -f "$SLURM_CONF" -N "$node"' sh "node$k" "$nd" "$d" "$(_slurm_bin slurmd)" $ro \
        >"$nd/slurmd.out" 2>&1
    if ! _slurm_wait_pidfile "$nd/slurmd.pid" 30 >/dev/null; then
        echo "slurm_lib: node$k's slurmd did not start:"; cat "$nd/slurmd.out"; slurm_logs; return 1
    fi
}

# the live processes of node K's namespace (a zombie is gone already; its parent reaps it)
slurm_node_pids() {
    for pid in $(ip netns pids "$(slurm_node_ns "$1")" 2>/dev/null); do
        [ "$(sed 's/^.*) //' "/proc/$pid/stat" 2>/dev/null | cut -c1)" = Z ] || echo "$pid"
    done
}

slurm_node_kill() {
    i=0
    while pids=$(slurm_node_pids "$1") && [ -n "$pids" ]; do
        # shellcheck disable=SC2086
        kill -KILL $pids 2>/dev/null
        i=$((i + 1))
        [ $i -lt 100 ] || { echo "slurm_lib: node$1 still has processes: $pids"; return 1; }
        sleep 0.1
    done
}

slurm_start_cluster() {
    SLURM_DIR=$1
    n=$2
    shift 2
    acct=""
    [ "${1:-}" != accounting ] || { acct=accounting; shift; }
    SLURM_RO_PATHS=""
    while [ $# -ge 2 ] && [ "$1" = --ro ]; do SLURM_RO_PATHS="$SLURM_RO_PATHS $2"; shift 2; done
    d=$SLURM_DIR
    mkdir -p "$d/state" "$d/local"
    _slurm_net_up "$n" || return 1
    # the hosts every node sees: this one's plus the nodes' names
    { cat /etc/hosts; k=1; while [ $k -le "$n" ]; do echo "$SLURM_NET.$k node$k"; k=$((k + 1)); done; } >"$d/hosts"
    _slurm_start_munge "$d" || return 1
    # SlurmdTimeout 5 s (300 by default) and MessageTimeout 5 s (10): slurmctld sets a lost node
    # DOWN (and ends or requeues its job) ~15 s after its slurmd stopped answering (~27 s with
    # MessageTimeout 10: the failed pings take that long), not minutes; a live slurmd answers
    # slurmctld's pings (every SlurmdTimeout/3) in milliseconds, even on a loaded machine
    _slurm_write_conf "$d" "$d/local" "$SLURM_NET.254" 5 5 "$acct" || return 1
    k=1
    while [ $k -le "$n" ]; do
        echo "NodeName=node$k NodeAddr=$SLURM_NET.$k CPUs=$(nproc) State=UNKNOWN" >>"$SLURM_CONF"
        k=$((k + 1))
    done
    echo "PartitionName=debug Nodes=node[1-$n] Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO" >>"$SLURM_CONF"
    _slurm_start_ctld "$d" || return 1
    k=1
    while [ $k -le "$n" ]; do slurm_node_start $k || return 1; k=$((k + 1)); done
    _slurm_wait_idle "$n"
}

# the nodes' slurmd (TERM, then whatever is left in each namespace: KILL), the namespaces, the bridge
_slurm_stop_nodes() {
    k=1
    while [ $k -le "$SLURM_NODES" ]; do
        pid=$(cat "$SLURM_DIR/nodes/node$k/slurmd.pid" 2>/dev/null)
        if [ -n "$pid" ] && slurm_node_pids $k | grep -qx "$pid"; then
            kill -TERM "$pid" 2>/dev/null
            i=0
            while kill -0 "$pid" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
        fi
        slurm_node_kill $k
        ip netns del "$(slurm_node_ns $k)" 2>/dev/null
        ip link del "slv$$n$k" 2>/dev/null   # gone with its namespace, unless the move there failed
        k=$((k + 1))
    done
    SLURM_NODES=0
    # the veths went with their namespaces
    [ -z "$SLURM_BRIDGE" ] || ip link del "$SLURM_BRIDGE" 2>/dev/null
    SLURM_BRIDGE=""
}

_slurm_have_dbd() {
    for p in mariadbd mariadb-install-db mariadb slurmdbd sacctmgr; do
        command -v "$p" >/dev/null 2>&1 || [ -x "/usr/sbin/$p" ] || return 1
    done
    ls /usr/lib/*/slurm-wlm/accounting_storage_mysql.so >/dev/null 2>&1 || return 1
}

# a private MariaDB and slurmdbd under $1; sets dbd_port
_slurm_start_dbd() {
    d=$1
    db_port=$(_slurm_free_port 3)
    dbd_port=$(_slurm_free_port 4)
    [ "$dbd_port" != "$db_port" ] || dbd_port=$((db_port + 1))
    mariadb-install-db --no-defaults --datadir="$d/db" --user=root --auth-root-authentication-method=normal \
        --skip-test-db >"$d/mariadb-install.log" 2>&1 || {
        echo "slurm_lib: mariadb-install-db failed:"; tail -n 20 "$d/mariadb-install.log"; return 1; }
    "$(_slurm_bin mariadbd)" --no-defaults --datadir="$d/db" --socket="$d/mariadb.sock" --port="$db_port" \
        --bind-address=127.0.0.1 --user=root --pid-file="$d/mariadb.pid" --log-error="$d/mariadb.err" \
        --skip-name-resolve --innodb-buffer-pool-size=32M --innodb-lock-wait-timeout=900 >/dev/null 2>&1 &
    SLURM_PIDS="$SLURM_PIDS $!"
    i=0
    until mariadb --no-defaults -S "$d/mariadb.sock" -uroot -e "select 1" >/dev/null 2>&1; do
        i=$((i + 1))
        if [ $i -ge 300 ]; then echo "slurm_lib: mariadbd did not start"; slurm_logs; return 1; fi
        sleep 0.1
    done
    mariadb --no-defaults -S "$d/mariadb.sock" -uroot -e "CREATE USER 'slurm'@'127.0.0.1' IDENTIFIED BY 'tests';
        GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1'; FLUSH PRIVILEGES;" || return 1
    cat >"$d/slurmdbd.conf" <<EOS
# generated by tests/slurm_lib.sh
AuthType=auth/munge
AuthInfo=socket=$d/munge/munge.sock
DbdHost=localhost
DbdAddr=127.0.0.1
DbdPort=$dbd_port
SlurmUser=root
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=$db_port
StorageUser=slurm
StoragePass=tests
LogFile=$d/slurmdbd.log
PidFile=$d/slurmdbd.pid
EOS
    chmod 600 "$d/slurmdbd.conf"
    # slurmdbd reads slurmdbd.conf beside $SLURM_CONF
    SLURM_CONF=$d/slurm.conf "$(_slurm_bin slurmdbd)" >"$d/slurmdbd.out" 2>&1
    if ! pid=$(_slurm_wait_pidfile "$d/slurmdbd.pid" 30); then
        echo "slurm_lib: slurmdbd did not start:"; cat "$d/slurmdbd.out"; slurm_logs; return 1
    fi
    SLURM_PIDS="$SLURM_PIDS $pid"
}

slurm_stop() {
    [ -n "$SLURM_PIDS" ] || [ "$SLURM_NODES" -gt 0 ] || [ -n "$SLURM_BRIDGE" ] || return 0
    # the jobs first, so that no slurmstepd, mpirun or tune outlives the test; only once
    # SLURM_CONF names the private slurm.conf (a start that failed before it would otherwise
    # query, and as root cancel every job of, the system's or an inherited SLURM_CONF's cluster)
    jobs=""
    [ "${SLURM_CONF:-}" != "$SLURM_DIR/slurm.conf" ] || jobs=$(squeue -h -o %i 2>/dev/null)
    if [ -n "$jobs" ]; then
        # shellcheck disable=SC2086
        scancel $jobs 2>/dev/null
        i=0
        while [ -n "$(squeue -h -o %i 2>/dev/null)" ] && [ $i -lt 60 ]; do sleep 0.5; i=$((i + 1)); done
    fi
    _slurm_stop_nodes
    # in reverse order: slurmd, slurmctld, munged
    rev=""
    for pid in $SLURM_PIDS; do rev="$pid $rev"; done
    for pid in $rev; do
        kill -TERM "$pid" 2>/dev/null || continue
        i=0
        while kill -0 "$pid" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
        kill -KILL "$pid" 2>/dev/null || true
    done
    SLURM_PIDS=""
}

slurm_wait_job() {
    i=0
    while [ $i -lt $(($2 * 2)) ]; do
        [ -z "$(squeue -h -j "$1" -o %i 2>/dev/null)" ] && return 0
        sleep 0.5
        i=$((i + 1))
    done
    return 1
}

slurm_job_field() {
    scontrol show job "$1" 2>/dev/null | tr ' ' '\n' | sed -n "s/^$2=//p" | head -n 1
}

slurm_sacct() {
    if [ "$SLURM_ACCOUNTING" = slurmdbd ]; then
        sacct --duplicates -j "$1" -o JobID,JobName%12,Partition,AllocCPUS,State,ExitCode,Submit,Start,End,Elapsed,NodeList 2>&1
    else
        sacct -c -j "$1" -o JobID,JobName%12,Partition,State,ExitCode,Start,End,Elapsed,NodeList 2>&1
    fi
}

# ----------------------------------------------------------------------------
# what the t_slurm_*.sh tests share (they source tests/lib.sh first: paths, fail/ok, skips)

# slurm_test_prelude: the skips (exit 77 with the reason) and the environment the jobs inherit
# (sbatch exports the submitter's environment); sets PY.
slurm_test_prelude() {
    [ -x "$SWEEP" ] || { echo "FAIL: $SWEEP is not built"; exit 1; }
    [ -x "$TUNE" ] && [ -x "$GPT2" ] || { echo "FAIL: $TUNE or $GPT2 is not built (make builds them)"; exit 1; }
    need_tokenizer
    need_data
    need_python "to compare the records"
    need_mpirun
    if ! why=$(slurm_can_start); then echo "skip: cannot start a private Slurm: $why"; exit 77; fi
    export SWEEP_HOME="$ROOT" SWEEP_BIN="$SWEEP" FAKE_TUNE_REAL="$TUNE"
    # Open MPI's session directories under $TMP: mpiruns of other tests starting at the same
    # moment race to create /tmp/ompi.HOST.UID
    export TMPDIR="$TMP"
}

# slurm_test_start [accounting]: the private Slurm under $TMP/slurm, stopped when the test exits
# (pass or fail)
slurm_test_start() {
    trap 'slurm_stop' EXIT
    trap 'exit 1' INT TERM
    t0=$(date +%s)
    if ! slurm_start "$TMP/slurm" "$@"; then
        echo "FAIL: the private Slurm did not start (packages are there: see the logs above)"
        exit 1
    fi
    echo "ok: Slurm up in $(( $(date +%s) - t0 ))s: $(sinfo -h -N -o '%N %T %c CPUs'), accounting: $SLURM_ACCOUNTING (SLURM_CONF=$SLURM_CONF)"
}

# slurm_test_start_cluster N [accounting] [--ro PATH]...: the private cluster of N nodes under
# $TMP/slurm (slurm_start_cluster), stopped and its namespaces and bridge removed when the test exits
slurm_test_start_cluster() {
    trap 'slurm_stop' EXIT
    trap 'exit 1' INT TERM
    t0=$(date +%s)
    if ! slurm_start_cluster "$TMP/slurm" "$@"; then
        echo "FAIL: the private cluster did not start (see the logs above)"
        exit 1
    fi
    echo "ok: a cluster of $1 nodes up in $(( $(date +%s) - t0 ))s: $(sinfo -h -N -o '%N %T %c CPUs' | tr '\n' ' ')" \
        "on $SLURM_NET.0/24 (slurmctld at $SLURM_NET.254), accounting: $SLURM_ACCOUNTING"
}

# slurm_expect_completed ID RESTARTS [NOTE]: ok if job ID ended COMPLETED with ExitCode 0:0
# after RESTARTS requeues, else fail
slurm_expect_completed() {
    state=$(slurm_job_field "$1" JobState)
    restarts=$(slurm_job_field "$1" Restarts)
    exitcode=$(slurm_job_field "$1" ExitCode)
    if [ "$state" = COMPLETED ] && [ "$restarts" = "$2" ] && [ "$exitcode" = 0:0 ]; then
        ok "job $1: JobState=$state Restarts=$restarts ExitCode=$exitcode${3:+ $3}"
    else
        fail "job $1: JobState=$state Restarts=$restarts ExitCode=$exitcode"
    fi
}

# slurm_fake_spec FILE MODEL OUT SEEDS: pez and rlprompt x lambda {0, 1} x SEEDS, a few steps
# each, through tests/fake_tune.sh (FAKE_TUNE_SLEEP slows the points down)
slurm_fake_spec() {
    cp "$ROOT/tests/fake_tune.sh" "$TMP/fake_tune"
    chmod +x "$TMP/fake_tune"
    cat >"$1" <<EOS
{"model": "$2", "task": "sst-2", "data_dir": "$DATA", "split": "16-42", "out": "$3",
 "grid": {"method": ["pez", "rlprompt"], "lambda": [0, 1], "prompt_length": [3], "seed": $4}, "empty_baseline": false,
 "pez": {"steps": 4, "batch": 4, "eval_every": 2},
 "rlprompt": {"steps": 4, "eval_every": 2, "hidden": 16, "prompts_per_step": 3, "top_k": 8},
 "point": {"max_test": 40}, "tune": "$TMP/fake_tune", "timeout_seconds": 120, "retries": 1,
 "drain_seconds": 20}
EOS
}
