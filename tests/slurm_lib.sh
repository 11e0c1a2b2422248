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

SLURM_DIR=""
SLURM_PIDS=""
SLURM_ACCOUNTING=jobcomp

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

slurm_start() {
    SLURM_DIR=$1
    mkdir -p "$SLURM_DIR/state" "$SLURM_DIR/spool" "$SLURM_DIR/munge" "$SLURM_DIR/tmp"
    chmod 755 "$SLURM_DIR/munge"   # the key inside is 600
    d=$SLURM_DIR
    host=$(hostname -s)
    cpus=$(nproc)
    # munge: its own key, socket, PID and log
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
    if [ "${2:-}" = accounting ] && _slurm_have_dbd; then
        _slurm_start_dbd "$d" || return 1
        accounting="AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=127.0.0.1
AccountingStoragePort=$dbd_port
AccountingStoragePass=$d/munge/munge.sock"
        SLURM_ACCOUNTING=slurmdbd
    fi
    cat >"$d/slurm.conf" <<EOF
# generated by tests/slurm_lib.sh: a private single-node Slurm for the tests
ClusterName=tests
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$d/munge/munge.sock
StateSaveLocation=$d/state
SlurmdSpoolDir=$d/spool
TmpFS=$d/tmp
FirstJobId=$first_job
SlurmctldPidFile=$d/slurmctld.pid
SlurmdPidFile=$d/slurmd.pid
SlurmctldLogFile=$d/slurmctld.log
SlurmdLogFile=$d/slurmd.log
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
SlurmdTimeout=60
InactiveLimit=0
Waittime=0
PlugStackConfig=$d/plugstack.conf
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
EOF
    : >"$d/plugstack.conf"
    SLURM_CONF=$d/slurm.conf
    export SLURM_CONF
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
    "$(_slurm_bin slurmd)" -f "$SLURM_CONF" -N "$host" >"$d/slurmd.out" 2>&1
    if ! pid=$(_slurm_wait_pidfile "$d/slurmd.pid" 30); then
        echo "slurm_lib: slurmd did not start:"; cat "$d/slurmd.out"; slurm_logs; return 1
    fi
    SLURM_PIDS="$SLURM_PIDS $pid"

    i=0
    while [ $i -lt 600 ]; do
        state=$(sinfo -h -N -o '%T' 2>/dev/null | head -n 1)
        [ "$state" = idle ] && return 0
        sleep 0.1
        i=$((i + 1))
    done
    echo "slurm_lib: the node is not idle after 60 s (sinfo: ${state:-nothing})"
    sinfo -N -l 2>&1
    slurm_logs
    return 1
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
    [ -n "$SLURM_PIDS" ] || return 0
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
