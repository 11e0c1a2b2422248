// sweep/child.c: one point, isolated: `tune -` in its own process group, dying with its
// worker, the point on its stdin, its model's known digest in its environment, its record read
// from its stdout under a time limit, the end of its stderr kept for the log of a failed attempt.
// Whatever goes wrong in the child (a crash, a hang, NaN, garbage) becomes a failed record with
// the reason, so a bad point never takes its worker down.
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sweep/sweep.h"
#include "tuners/tuners.h"   // TUNE_KNOWN_SHA256_ENV
#include "util/record.h"

extern char **environ;

#define KILL_GRACE_SECONDS 2.0
/* A record is a few KB (its history grows with the steps); more than this on stdout is not a
 * record, and is not kept: the child is stopped and the point fails. */
#define MAX_STDOUT_BYTES ((size_t)64 << 20)

int sweep_item_encode(double timeout_seconds, const char *tune_path, const char *model_known,
                      const char *point_json, char **item, size_t *len, Err *err) {
    if (!model_known || strchr(model_known, '\n')) model_known = "";   // one line (gpt2.h makes no other)
    size_t cap = strlen(tune_path) + strlen(model_known) + strlen(point_json) + 64;
    char *buf = malloc(cap);
    if (!buf) return err_fail(err, "sweep: out of memory");
    int n = snprintf(buf, cap, "%.17g\n%s\n%s\n%s", timeout_seconds, tune_path, model_known, point_json);
    *item = buf;
    *len = (size_t)n;
    return 0;
}

typedef struct {
    double timeout;
    char *tune;        // into the item copy
    char *known;       // into the item copy: the model's known line, "" for none
    char *point;       // into the item copy
    char *storage;
} Item;

static int item_decode(Item *it, const void *data, size_t len, Err *err) {
    memset(it, 0, sizeof *it);
    if (!(it->storage = malloc(len + 1))) return err_fail(err, "sweep: out of memory");
    memcpy(it->storage, data, len);
    it->storage[len] = '\0';
    char *nl[3];
    for (int k = 0; k < 3; k++)
        if (!(nl[k] = strchr(k ? nl[k - 1] + 1 : it->storage, '\n'))) {
            free(it->storage);
            return err_fail(err, "sweep: a malformed work item");
        }
    for (int k = 0; k < 3; k++) *nl[k] = '\0';
    it->timeout = strtod(it->storage, NULL);
    it->tune = nl[0] + 1;
    it->known = nl[1] + 1;
    it->point = nl[2] + 1;
    return 0;
}

// ----------------------------------------------------------------------------
// the failed record

/* {"point": <point>, "status": "failed", "error": reason}, malloc'd. */
static char *failed_record(const char *point_json, const char *reason) {
    cJSON *r = cJSON_CreateObject();
    cJSON *p = cJSON_Parse(point_json);
    cJSON_AddItemToObject(r, REC_POINT, p ? p : cJSON_CreateNull());
    cJSON_AddStringToObject(r, REC_STATUS, REC_STATUS_FAILED);
    cJSON_AddStringToObject(r, REC_ERROR, reason);
    char *text = cJSON_PrintUnformatted(r);
    cJSON_Delete(r);
    return text;
}

/* The first metric that is not a finite number, or NULL. tune writes NaN as null. */
static const char *non_finite_metric(const cJSON *rec) {
    static const char *const top[] = {REC_DEV_REWARD, REC_LOG_PPL, REC_PPL, REC_DICT_SHARE};
    for (int k = 0; k < 4; k++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(rec, top[k]);
        if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble)) return top[k];
    }
    static const char *const acc[] = {REC_TRAIN, REC_DEV, REC_TEST};
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(rec, REC_ACCURACY);
    for (int k = 0; k < 3; k++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(a, acc[k]);
        if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble)) return acc[k];
    }
    return NULL;
}

/* What tune left behind -> the record to send: tune's own when it is one JSON record
 * with finite metrics, else a failed one saying why. */
static char *judge(const char *point_json, char *out, int status, const char *stderr_tail) {
    char reason[1024];
    size_t n = strlen(out);
    while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == '\r' || out[n - 1] == ' ')) out[--n] = '\0';
    if (WIFSIGNALED(status)) {
        int sig = WTERMSIG(status);
        snprintf(reason, sizeof reason, "tune crashed: killed by signal %d (%s)", sig, strsignal(sig));
        return failed_record(point_json, reason);
    }
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    // one JSON record and nothing after it: trailing text means the output is not tune's record
    const char *end = NULL;
    cJSON *rec = n ? cJSON_ParseWithOpts(out, &end, 1) : NULL;
    if (!rec) {
        if (n && strstr(out, "NaN")) snprintf(reason, sizeof reason, "tune's record holds NaN (exit %d)", code);
        else if (n && end && *end) snprintf(reason, sizeof reason, "tune's output is not one JSON record: text "
                                            "after it at byte %ld (exit %d)", (long)(end - out), code);
        else if (n) snprintf(reason, sizeof reason, "tune's output is not a JSON record (exit %d)", code);
        else snprintf(reason, sizeof reason, "tune exited %d without a record%s%s", code,
                      stderr_tail[0] ? ": " : "", stderr_tail);
        return failed_record(point_json, reason);
    }
    const char *st = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(rec, REC_STATUS));
    const char *bad = st && strcmp(st, REC_STATUS_OK) == 0 ? non_finite_metric(rec) : NULL;
    int ok_exit = code == 0 || (code == 1 && st && strcmp(st, REC_STATUS_FAILED) == 0);
    cJSON_Delete(rec);
    if (!st || !ok_exit) {
        snprintf(reason, sizeof reason, "tune exited %d with a record of status %s", code, st ? st : "(none)");
        return failed_record(point_json, reason);
    }
    if (bad) {
        snprintf(reason, sizeof reason, "NaN or infinite metric \"%s\" in tune's record", bad);
        return failed_record(point_json, reason);
    }
    return strdup(out);   // tune's record, ok or failed as tune said
}

// ----------------------------------------------------------------------------
// the child

typedef struct {
    pid_t pid;
    int in, out, errfd;     // our ends of its stdin, stdout, stderr
} Child;

/* In the forked child, before exec (async-signal-safe calls only): its own process group (a
 * timeout kills whatever it starts too), death with its worker (PR_SET_PDEATHSIG: a worker
 * killed by -9 or lost with its node must not leave tune computing on, with no time limit
 * left; if the worker is already gone, exit now), the pipes as stdin, stdout, stderr, every
 * signal at its default and unblocked. Does not return; an exec that fails writes its errno
 * to err_fd. */
__attribute__((noreturn)) static void exec_tune(const char *tune, char *const envp[], pid_t worker, int in,
                                                 int out, int errfd, int err_fd) {
    setpgid(0, 0);
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != worker) _exit(127);
    if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(errfd, 2) < 0) _exit(127);
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; sig++) sigaction(sig, &dfl, NULL); // SIGKILL and SIGSTOP: EINVAL
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    // not --quiet: tune's progress and timing lines are what a failed attempt's log shows
    // (sweep.h, "Logs"); an ok attempt's stderr is dropped by the worker
    char *argv[] = {(char *)tune, "-", NULL};
    execve(tune, argv, envp);
    int e = errno;
    ssize_t w = write(err_fd, &e, sizeof e);
    (void)w;
    _exit(127);
}

/* The worker's environment for its tune (malloc'd array, its strings the worker's but the
 * last): without any TUNE_KNOWN_SHA256, then TUNE_KNOWN_SHA256=known when known is not "".
 * Made before the fork: the child may only make async-signal-safe calls. NULL: no memory. */
static char **tune_environment(const char *known, char **own) {
    static const char name[] = TUNE_KNOWN_SHA256_ENV "=";
    size_t n = 0;
    while (environ[n]) n++;
    char **envp = malloc((n + 2) * sizeof *envp);
    *own = NULL;
    if (!envp) return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (strncmp(environ[i], name, sizeof name - 1) != 0) envp[k++] = environ[i];
    if (known[0]) {
        size_t len = sizeof name + strlen(known);
        if (!(*own = malloc(len))) { free(envp); return NULL; }
        snprintf(*own, len, "%s%s", name, known);
        envp[k++] = *own;
    }
    envp[k] = NULL;
    return envp;
}

static int spawn_tune(Child *c, const char *tune, const char *known, Err *err) {
    char *own;
    char **envp = tune_environment(known, &own);
    if (!envp) return err_fail(err, "sweep: out of memory");
    int pin[2] = {-1, -1}, pout[2] = {-1, -1}, perr[2] = {-1, -1}, pexec[2] = {-1, -1};
    if (pipe2(pin, O_CLOEXEC) || pipe2(pout, O_CLOEXEC) || pipe2(perr, O_CLOEXEC) || pipe2(pexec, O_CLOEXEC)) {
        int e = errno;
        for (int k = 0; k < 2; k++) {
            if (pin[k] >= 0) close(pin[k]);
            if (pout[k] >= 0) close(pout[k]);
            if (perr[k] >= 0) close(perr[k]);
        }
        free(envp);
        free(own);
        return err_fail(err, "sweep: pipe: %s", strerror(e));
    }
    pid_t worker = getpid();
    c->pid = fork();
    if (c->pid == 0) exec_tune(tune, envp, worker, pin[0], pout[1], perr[1], pexec[1]);
    int fork_errno = errno;
    free(envp);
    free(own);
    close(pin[0]);
    close(pout[1]);
    close(perr[1]);
    close(pexec[1]);
    c->in = pin[1];
    c->out = pout[0];
    c->errfd = perr[0];
    // exec succeeded when the CLOEXEC pipe closes with nothing in it
    int exec_errno = 0;
    ssize_t got = 0;
    if (c->pid > 0)
        do got = read(pexec[0], &exec_errno, sizeof exec_errno);
        while (got < 0 && errno == EINTR);
    close(pexec[0]);
    if (c->pid < 0 || got == (ssize_t)sizeof exec_errno) {
        if (c->pid > 0) while (waitpid(c->pid, NULL, 0) < 0 && errno == EINTR) {}
        close(c->in);
        close(c->out);
        close(c->errfd);
        return err_fail(err, "sweep: cannot start %s: %s", tune, strerror(c->pid < 0 ? fork_errno : exec_errno));
    }
    return 0;
}

/* SIGTERM to the group, SIGKILL after a grace period; reaps the child. */
static int kill_and_reap(pid_t pid) {
    kill(-pid, SIGTERM);
    double until = util_now() + KILL_GRACE_SECONDS;
    int status = 0;
    while (util_now() < until) {
        pid_t w = waitpid(pid, &status, WNOHANG);
        if (w == pid) { kill(-pid, SIGKILL); return status; }
        usleep(10000);
    }
    kill(-pid, SIGKILL);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
    return status;
}

typedef struct {
    char *data;
    size_t len, cap;
} Buf;

static int buf_read(Buf *b, int fd) {
    if (b->len + 4096 + 1 > b->cap) {
        size_t cap = 2 * b->cap + 8192;
        char *grown = realloc(b->data, cap);
        if (!grown) return -1;
        b->data = grown;
        b->cap = cap;
    }
    ssize_t got = read(fd, b->data + b->len, b->cap - b->len - 1);
    if (got < 0) return errno == EINTR || errno == EAGAIN ? 1 : -1;
    b->len += (size_t)got;
    b->data[b->len] = '\0';
    return got == 0 ? 0 : 1;
}

/* Keeps the last SWEEP_LOG_MAX_BYTES of the child's stderr: the end says why it failed. Called
 * after each read; it cuts only when twice the cap has piled up, so the copying is amortised. */
static void keep_stderr_tail(Buf *b, size_t *dropped) {
    if (b->len <= 2 * SWEEP_LOG_MAX_BYTES) return;
    size_t cut = b->len - SWEEP_LOG_MAX_BYTES;
    memmove(b->data, b->data + cut, SWEEP_LOG_MAX_BYTES);
    b->len = SWEEP_LOG_MAX_BYTES;
    b->data[b->len] = '\0';
    *dropped += cut;
}

/* The log of a failed attempt (malloc'd, NUL-terminated): the kept end of tune's stderr, after a
 * line saying how much was cut before it when anything was. NULL: no memory. */
static char *stderr_log(const Buf *b, size_t dropped, size_t *log_len) {
    size_t keep = b->len, skip = 0;
    if (keep > SWEEP_LOG_MAX_BYTES) {
        skip = keep - SWEEP_LOG_MAX_BYTES;
        keep = SWEEP_LOG_MAX_BYTES;
        dropped += skip;
    }
    char note[160] = "";
    if (dropped)
        snprintf(note, sizeof note, "sweep: the first %zu bytes of tune's stderr were cut; its last %zu follow\n",
                 dropped, keep);
    size_t n = strlen(note);
    char *log = malloc(n + keep + 1);
    if (!log) return NULL;
    memcpy(log, note, n);
    if (keep) memcpy(log + n, b->data + skip, keep);
    log[n + keep] = '\0';
    *log_len = n + keep;
    return log;
}

/* The last line of the child's stderr, for the failure reason. */
static void last_line(const Buf *b, char *out, size_t cap) {
    out[0] = '\0';
    if (!b->data) return;
    size_t end = b->len;
    while (end > 0 && (b->data[end - 1] == '\n' || b->data[end - 1] == '\r')) end--;
    size_t start = end;
    while (start > 0 && b->data[start - 1] != '\n') start--;
    size_t n = end - start < cap - 1 ? end - start : cap - 1;
    memcpy(out, b->data + start, n);
    out[n] = '\0';
}

int sweep_run_item(const void *item, size_t len, volatile sig_atomic_t *stop, char **record, char **log,
                   size_t *log_len, int *interrupted, Err *err) {
    *record = NULL;
    *log = NULL;
    *log_len = 0;
    *interrupted = 0;
    Item it;
    if (item_decode(&it, item, len, err)) return -1;
    Child c = {.pid = -1, .in = -1, .out = -1, .errfd = -1};
    if (spawn_tune(&c, it.tune, it.known, err)) {
        char reason[SWEEP_PATH + 64];
        snprintf(reason, sizeof reason, "%s", err->msg);
        *record = failed_record(it.point, reason);
        *log = strdup("");   // no tune ran: its log is empty, the record says why
        free(it.storage);
        if (!*record || !*log) {
            free(*record);
            free(*log);
            *record = *log = NULL;
            return err_fail(err, "sweep: out of memory");
        }
        return 0;
    }
    // the point is small (a few KB): one write before reading; SIGPIPE is ignored by the
    // caller, so a child that died early gives EPIPE here, and its status tells why
    size_t plen = strlen(it.point);
    for (size_t off = 0; off < plen;) {
        ssize_t w = write(c.in, it.point + off, plen - off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) break;
        off += (size_t)w;
    }
    close(c.in);

    Buf out = {0}, errb = {0};
    size_t err_dropped = 0;   // bytes of stderr cut from the front (keep_stderr_tail)
    double deadline = util_now() + it.timeout;
    int out_open = 1, err_open = 1, timed_out = 0, too_much = 0, status = 0;
    while (out_open || err_open) {
        if (*stop) { *interrupted = 1; break; }
        double left = deadline - util_now();
        if (left <= 0) { timed_out = 1; break; }
        struct pollfd fds[2] = {{.fd = out_open ? c.out : -1, .events = POLLIN},
                                {.fd = err_open ? c.errfd : -1, .events = POLLIN}};
        int ms = left > 0.1 ? 100 : (int)(left * 1000) + 1;   // wakes to look at *stop
        if (poll(fds, 2, ms) < 0) continue;
        if (out_open && (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) && buf_read(&out, c.out) <= 0) out_open = 0;
        if (err_open && (fds[1].revents & (POLLIN | POLLHUP | POLLERR)) && buf_read(&errb, c.errfd) <= 0) err_open = 0;
        keep_stderr_tail(&errb, &err_dropped);
        if (out.len > MAX_STDOUT_BYTES) { too_much = 1; break; }
    }
    close(c.out);
    close(c.errfd);
    if (*interrupted || timed_out || too_much) {
        kill_and_reap(c.pid);
    } else {
        // both pipes closed: the child is exiting; still bounded by the deadline
        for (;;) {
            pid_t w = waitpid(c.pid, &status, WNOHANG);
            if (w == c.pid) break;
            if (w < 0 && errno != EINTR) break;
            if (*stop) { *interrupted = 1; kill_and_reap(c.pid); break; }
            if (util_now() > deadline) { timed_out = 1; kill_and_reap(c.pid); break; }
            usleep(5000);
        }
    }
    // Slurm signals every process of a job at once (scancel, requeue, preemption): a child
    // killed by SIGTERM or SIGKILL while this worker is being stopped (its own signal may come
    // a moment later) was interrupted, not crashed
    if (!*interrupted && !timed_out && WIFSIGNALED(status) &&
        (WTERMSIG(status) == SIGTERM || WTERMSIG(status) == SIGKILL)) {
        for (int i = 0; i < 50 && !*stop; i++) usleep(10000);
        if (*stop) *interrupted = 1;
    }
    char tail[512];
    last_line(&errb, tail, sizeof tail);
    if (!*interrupted) {
        if (timed_out) {
            char reason[128];
            snprintf(reason, sizeof reason, "timeout: no record after %g s (killed)", it.timeout);
            *record = failed_record(it.point, reason);
        } else if (too_much) {
            char reason[128];
            snprintf(reason, sizeof reason, "tune wrote more than %zu MiB on stdout: not a record (killed)",
                     MAX_STDOUT_BYTES >> 20);
            *record = failed_record(it.point, reason);
        } else {
            *record = judge(it.point, out.data ? out.data : (char[1]){0}, status, tail);
        }
    }
    int oom = !*interrupted && !*record;
    // the log goes back with a failed record only: an ok record holds its own history, and 64
    // ranks sending every stderr to rank 0 would cost it for nothing (sweep.h, "Logs")
    if (!oom && *record && sweep_record_failed(*record, strlen(*record)))
        oom = !(*log = stderr_log(&errb, err_dropped, log_len));
    free(out.data);
    free(errb.data);
    free(it.storage);
    if (oom) {
        free(*record);
        *record = NULL;
        return err_fail(err, "sweep: out of memory");
    }
    return 0;
}
