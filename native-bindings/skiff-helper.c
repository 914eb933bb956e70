/*
 * skiff-helper.c — the only C in skiff.
 *
 * Why C at all: Node is multithreaded, and a forked copy of a Node process
 * must never run JavaScript again (it crashes as soon as control returns to
 * V8).  So the few steps that have to happen inside a freshly cloned child,
 * before anything else can run there, live here:
 *
 *   skiff_clone()  clone(2) with namespace flags; wait while the parent
 *                  writes uid/gid maps; make the container's procfs;
 *                  wait while the parent builds the mount table; seccomp;
 *                  execve(skiff-exec).
 *   skiff_nsexec() join a running container's namespaces (setns), fork once
 *                  more so the pid namespace takes effect, switch ids,
 *                  chdir, execve() — the engine behind `skiff exec`.
 *
 * Rules for code in a cloned child: raw syscalls only, no malloc, no stdio,
 * no glibc wrappers that consult thread lists (setuid & co. broadcast to the
 * parent's stale threads), and _exit() rather than exit().
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

static void die(int err_fd, const char *stage, int err, int code);
static int nsexec_err_fd = -1;

#define CAPS_FAIL(stage, err) die(nsexec_err_fd, stage, err, 125)
#include "skiff-caps.h"

/* Exit codes of the helper itself, chosen to match Docker's meaning. */
#define EXIT_RUNTIME 125
#define EXIT_CANNOT_INVOKE 126
#define EXIT_NOT_FOUND 127
#define PATH_FAIL(stage, err, code) die(nsexec_err_fd, stage, err, code)
#include "skiff-path.h"

/* A pidfd of this process, opened before a clone: the child's way to learn
 * that its parent died before PR_SET_PDEATHSIG took effect (below). -1 on
 * kernels without pidfd_open (< 5.3), where the window stays open. */
static int self_pidfd(void) {
  return (int)syscall(SYS_pidfd_open, syscall(SYS_getpid), 0);
}

/* In a child, right after PR_SET_PDEATHSIG: a parent that died between the
 * clone and the prctl sends no signal, and the child, which holds a copy of
 * the sync pipe's write end, would wait forever. Its pidfd is readable once
 * it has exited. (getppid() cannot tell: in a new pid namespace it is 0.) */
static void exit_if_parent_gone(int parent_pidfd) {
  if (parent_pidfd < 0) return;
  struct pollfd p = { .fd = parent_pidfd, .events = POLLIN };
  struct timespec zero = { 0, 0 };
  if (syscall(SYS_ppoll, &p, 1, &zero, NULL, 0) > 0) syscall(SYS_exit_group, EXIT_RUNTIME);
  syscall(SYS_close, parent_pidfd);
}

/* Report "stage:errno" on the error fd (if any) and die.  The parent reads
 * this to print a message that names the failing step. */
static void die(int err_fd, const char *stage, int err, int code) {
  if (err_fd >= 0) {
    char buf[96];
    size_t n = 0;
    for (const char *p = stage; *p && n < sizeof(buf) - 16; p++) buf[n++] = *p;
    buf[n++] = ':';
    char digits[12];
    int d = 0, v = err < 0 ? -err : err;
    do { digits[d++] = (char)('0' + v % 10); v /= 10; } while (v && d < 11);
    while (d) buf[n++] = digits[--d];
    buf[n++] = '\n';
    (void)syscall(SYS_write, err_fd, buf, n);
  }
  syscall(SYS_exit_group, code);
  for (;;) {}
}

/* Node leaves SIGPIPE ignored and some signals blocked; both survive execve,
 * so a container would inherit them.  Put everything back to default. */
static void reset_signals(void) {
  struct { void *handler; unsigned long flags; void *restorer; uint64_t mask; } sa;
  memset(&sa, 0, sizeof(sa)); /* SIG_DFL */
  for (int sig = 1; sig <= 64; sig++) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    syscall(SYS_rt_sigaction, sig, &sa, NULL, 8);
  }
  uint64_t empty = 0;
  syscall(SYS_rt_sigprocmask, SIG_SETMASK, &empty, NULL, 8);
}

/* Place fds[i] at descriptor i for i < nfds, clearing FD_CLOEXEC on them
 * (Node sets O_CLOEXEC even on 0-2), and mark every other descriptor
 * close-on-exec so nothing of the runtime leaks into the container. */
static int arrange_fds(const int *fds, int nfds) {
  int tmp[8];
  if (nfds > 8) return -EINVAL;
  /* Move sources out of the way first, so dup2(fds[1], 1) cannot clobber a
   * source that happens to sit at 1, and so dup2 never sees src == dst
   * (which would leave FD_CLOEXEC set). */
  for (int i = 0; i < nfds; i++) {
    tmp[i] = (int)syscall(SYS_fcntl, fds[i], F_DUPFD_CLOEXEC, 64);
    if (tmp[i] < 0) return -errno;
  }
  for (int i = 0; i < nfds; i++) {
    if (syscall(SYS_dup2, tmp[i], i) < 0) return -errno;
  }
  if (syscall(SYS_close_range, nfds, ~0U, CLOSE_RANGE_CLOEXEC) < 0) return -errno;
  return 0;
}

static int switch_ids(uint32_t uid, uint32_t gid, const uint32_t *groups, int ngroups) {
  if (syscall(SYS_setgroups, ngroups, groups) < 0) return -errno;
  if (syscall(SYS_setresgid, gid, gid, gid) < 0) return -errno;
  if (syscall(SYS_setresuid, uid, uid, uid) < 0) return -errno;
  return 0;
}

/* Wait for the parent's go-ahead.  EOF means the parent died: give up. */
static void wait_sync(int sync_fd, int err_fd) {
  char c;
  long n;
  do { n = syscall(SYS_read, sync_fd, &c, 1); } while (n < 0 && errno == EINTR);
  if (n != 1) die(err_fd, "sync", n < 0 ? errno : EPIPE, EXIT_RUNTIME);
}

#ifndef SYS_fsopen
#define SYS_fsopen 430
#define SYS_fsconfig 431
#endif
#define FSCONFIG_SET_STRING 1
#define FSCONFIG_CMD_CREATE 6

/* A procfs instance belongs to the pid namespace of the process that creates
 * it, so only a process inside the container's pid namespace can make the
 * container's /proc.  This creates the superblock (fsopen + FSCONFIG_CMD_CREATE)
 * and returns the fs context's fd; the parent takes it with pidfd_getfd and
 * calls fsmount at its place in the mount plan. */
static int make_proc_context(void) {
  int fs = (int)syscall(SYS_fsopen, "proc", 1 /* FSOPEN_CLOEXEC */);
  if (fs < 0) return -errno;
  if (syscall(SYS_fsconfig, fs, FSCONFIG_SET_STRING, "source", "proc", 0) < 0 ||
      syscall(SYS_fsconfig, fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0) {
    int e = errno;
    syscall(SYS_close, fs);
    return -e;
  }
  return fs;
}

/* "P<fd>\n" on the error pipe: the proc context is ready, the parent may
 * build the container's mount table now. */
static void report_proc_fd(int err_fd, int fd) {
  char buf[16];
  int n = 0, d = 0;
  char digits[12];
  buf[n++] = 'P';
  do { digits[d++] = (char)('0' + fd % 10); fd /= 10; } while (fd && d < 11);
  while (d) buf[n++] = digits[--d];
  buf[n++] = '\n';
  if (syscall(SYS_write, err_fd, buf, n) != n) die(err_fd, "report", errno, EXIT_RUNTIME);
}

/*
 * Clone the container's first process and make it exec `stub_fd`
 * (skiff-exec) once the parent has built its root filesystem.
 *
 * The child only does what must happen inside the new namespaces, by a
 * process that is single-threaded and in the new pid namespace:
 *
 *   child (here)                            parent (Node, sandbox/enter.ts)
 *   wait for byte 1 on the sync pipe   <--  writes uid/gid maps, then byte 1
 *   become root of the user namespace
 *   make the proc sb, say "P<fd>"      -->  takes the fd (pidfd_getfd), enters the
 *                                           child's mount, uts, ipc and net
 *                                           namespaces, mounts everything,
 *                                           pivot_root (which moves this child's
 *   wait for byte 2                    <--  root too), returns home, byte 2
 *   no_new_privs, seccomp, execveat(skiff-exec)
 *
 * flags:     CLONE_NEW* flags for clone(2) (CLONE_NEWCGROUP is left to
 *            skiff-exec: a cgroup namespace is rooted where its creator stands,
 *            and the process joins the container's cgroup only later).
 * sync_fd:   read end of the sync pipe.
 * netns_fd:  a network namespace to join (--network container:NAME), or -1.
 * fds/nfds:  descriptors that become 0..nfds-1 in the child; fds[3] is the
 *            error pipe (skiff-exec speaks there next), fds[4] skiff-exec's sync.
 * tty:       if set, fd 0 becomes the controlling terminal.
 * stub_fd:   skiff-exec, opened by the parent: after pivot_root the host's
 *            files have no path any more.
 * bpf/nnp:   the seccomp program and no_new_privs, installed right before the
 *            exec, so skiff-exec runs under them too.
 * Returns the child's pid, or -errno.
 */
/* The pty slave was opened on the host, through a path the container cannot
 * see; opened again by its own name (in the new root) it reads as /dev/pts/N
 * in /proc/self/fd, as a terminal opened inside does.  Same terminal, still
 * the controlling one. */
static void reopen_tty(const char *path, int err_fd) {
  int fd = (int)syscall(SYS_openat, AT_FDCWD, path, O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (fd < 0) die(err_fd, "open(tty)", errno, EXIT_RUNTIME);
  for (int i = 0; i <= 2; i++) {
    struct termios t;
    if (syscall(SYS_ioctl, i, TCGETS, &t) == 0 && syscall(SYS_dup2, fd, i) < 0) die(err_fd, "dup2(tty)", errno, EXIT_RUNTIME);
  }
  syscall(SYS_close, fd);
}

int skiff_clone(unsigned long flags, int sync_fd, int netns_fd, const int *fds, int nfds, int tty,
                int stub_fd, char *const argv[], char *const envp[], const void *bpf, int bpf_len, int nnp,
                const char *tty_path) {
  unsigned long cflags = (flags & ~(unsigned long)CLONE_NEWCGROUP) | SIGCHLD;
  /* Raw clone with a NULL stack behaves like fork: the child runs on a
   * copy-on-write copy of this stack, so no stack needs to be allocated. */
  int parent = self_pidfd();
  long pid = syscall(SYS_clone, cflags, NULL, NULL, NULL, NULL);
  if (pid != 0) {
    int err = errno;
    if (parent >= 0) syscall(SYS_close, parent);
    return pid < 0 ? -err : (int)pid;
  }

  /* ---- child: single-threaded, in the new namespaces ---- */
  int err_fd = nfds > 3 ? fds[3] : -1;
  reset_signals();
  /* Until the parent's last go-ahead, die with it: this child holds a copy
   * of the sync pipe's write end, so it would never see EOF on its own. */
  syscall(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  exit_if_parent_gone(parent);
  wait_sync(sync_fd, err_fd);
  if (netns_fd >= 0 && syscall(SYS_setns, netns_fd, CLONE_NEWNET) < 0)
    die(err_fd, "setns(CLONE_NEWNET)", errno, EXIT_RUNTIME);
  if (flags & CLONE_NEWUSER) {
    /* Become root of the new user namespace (the parent wrote the maps). */
    int r = switch_ids(0, 0, NULL, 0);
    if (r < 0) die(err_fd, "setresuid", -r, EXIT_RUNTIME);
  }
  int proc_fd = make_proc_context();
  if (proc_fd < 0) die(err_fd, "fsconfig(proc)", -proc_fd, EXIT_RUNTIME);
  /* Out of the range arrange_fds fills (0..nfds-1), so dup2 cannot clobber them. */
  proc_fd = (int)syscall(SYS_fcntl, proc_fd, F_DUPFD_CLOEXEC, 200);
  stub_fd = (int)syscall(SYS_fcntl, stub_fd, F_DUPFD_CLOEXEC, 200);
  sync_fd = (int)syscall(SYS_fcntl, sync_fd, F_DUPFD_CLOEXEC, 200);
  if (proc_fd < 0 || stub_fd < 0 || sync_fd < 0) die(err_fd, "fcntl(F_DUPFD)", errno, EXIT_RUNTIME);
  int r = arrange_fds(fds, nfds);
  if (r < 0) die(nfds > 3 ? 3 : 2, "dup2", -r, EXIT_RUNTIME);
  err_fd = nfds > 3 ? 3 : 2;
  if (syscall(SYS_setsid) < 0) die(err_fd, "setsid", errno, EXIT_RUNTIME);
  if (tty && syscall(SYS_ioctl, 0, TIOCSCTTY, 0) < 0) die(err_fd, "ioctl(TIOCSCTTY)", errno, EXIT_RUNTIME);
  report_proc_fd(err_fd, proc_fd);
  wait_sync(sync_fd, err_fd);
  syscall(SYS_close, sync_fd);
  syscall(SYS_close, proc_fd);
  syscall(SYS_prctl, PR_SET_PDEATHSIG, 0, 0, 0, 0);
  if (tty_path) reopen_tty(tty_path, err_fd);
  nsexec_err_fd = err_fd;
  syscall(SYS_umask, 022); /* Node's umask is the caller's; containers get Docker's */
  seccomp_install(bpf, bpf_len, nnp);
  syscall(SYS_execveat, stub_fd, "", argv, envp, AT_EMPTY_PATH);
  die(err_fd, "execve", errno, EXIT_CANNOT_INVOKE);
  return -1;
}

/*
 * A process in a new user namespace that waits on SYNC_FD, then exits: the
 * parent writes its uid/gid maps and uses /proc/PID/ns/user as the userns fd
 * for idmapped mounts.  Returns its pid, or -errno.
 */
int skiff_userns_holder(int sync_fd) {
  int parent = self_pidfd();
  long pid = syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, NULL, NULL, NULL, NULL);
  if (pid != 0) {
    int err = errno;
    if (parent >= 0) syscall(SYS_close, parent);
    return pid < 0 ? -err : (int)pid;
  }
  syscall(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  exit_if_parent_gone(parent);
  char c;
  while (syscall(SYS_read, sync_fd, &c, 1) < 0 && errno == EINTR) {}
  syscall(SYS_exit_group, 0);
  return -1;
}

/*
 * Run a command inside a running container (the engine of `skiff exec`).
 *
 * ns_fds:  open descriptors of /proc/PID/ns entries, in the order they must be
 *          joined (user first, mnt last), n_ns of them.
 * The child joins them all, then forks again: setns(CLONE_NEWPID) only
 * changes the pid namespace of *future* children, so the process that
 * execs must be a grandchild.  The middle process waits for it and exits
 * with the same status, so the caller waits for one pid as usual.
 * err_fd receives "stage:errno" if anything fails before execve.
 * caps/bpf/nnp: the container's capability mask, seccomp program and
 * no_new_privs, applied to the new process as skiff-exec does for PID 1.
 */
int skiff_nsexec(const int *ns_fds, int n_ns, int sync_fd, const int *fds, int nfds, int tty,
                 uint32_t uid, uint32_t gid, const uint32_t *groups, int ngroups,
                 const char *cwd, const char *file, char *const argv[], char *const envp[],
                 int err_fd, unsigned long long caps, const void *bpf, int bpf_len, int nnp) {
  int parent = self_pidfd();
  long pid = syscall(SYS_clone, SIGCHLD, NULL, NULL, NULL, NULL);
  if (pid != 0) {
    int err = errno;
    if (parent >= 0) syscall(SYS_close, parent);
    return pid < 0 ? -err : (int)pid;
  }

  /* ---- middle process ---- */
  reset_signals();
  syscall(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  exit_if_parent_gone(parent);
  if (sync_fd >= 0) {
    wait_sync(sync_fd, err_fd);
    syscall(SYS_close, sync_fd);
  }
  /* Past the sync the command is under way: its exit status belongs to
   * whoever reaps this process, skiff exec or, after `skiff-runc exec
   * --detach` has returned, the client's shim (a subreaper). Dying with our
   * parent now would turn that status into SIGKILL's 137. */
  syscall(SYS_prctl, PR_SET_PDEATHSIG, 0, 0, 0, 0);
  for (int i = 0; i < n_ns; i++)
    if (syscall(SYS_setns, ns_fds[i], 0) < 0) die(err_fd, "setns", errno, EXIT_RUNTIME);
  /* The helper must not be re-enterable from inside: a container process
   * could otherwise open /proc/PID/exe of this process and write through it
   * to the host binary (CVE-2019-5736). */
  syscall(SYS_prctl, PR_SET_DUMPABLE, 0, 0, 0, 0);
  long child = syscall(SYS_clone, SIGCHLD, NULL, NULL, NULL, NULL);
  if (child < 0) die(err_fd, "clone", errno, EXIT_RUNTIME);
  if (child > 0) {
    /* Only the grandchild may hold the error pipe: the caller reads it to
     * EOF, which must come when the command execs, not when it exits. */
    if (err_fd >= 0) syscall(SYS_close, err_fd);
    /* Nor any other descriptor: a copy of the write end of the command's
     * stdin pipe, held here, would keep EOF from ever reaching it. */
    syscall(SYS_close_range, 0, ~0U, 0);
    int status = 0;
    long w;
    do { w = syscall(SYS_wait4, child, &status, 0, NULL); } while (w < 0 && errno == EINTR);
    if (w < 0) syscall(SYS_exit_group, EXIT_RUNTIME);
    if (WIFSIGNALED(status)) syscall(SYS_exit_group, 128 + WTERMSIG(status));
    syscall(SYS_exit_group, WEXITSTATUS(status));
  }

  /* ---- grandchild: inside every namespace, including pid ---- */
  /* The same powers as the container's command: bounding set, seccomp
   * (while still privileged enough to install it), ids, capabilities. */
  nsexec_err_fd = err_fd;
  caps_drop_bounding(caps);
  seccomp_install(bpf, bpf_len, nnp);
  int r = switch_ids(uid, gid, groups, ngroups);
  if (r < 0) die(err_fd, "setresuid", -r, EXIT_RUNTIME);
  caps_set(caps, uid);
  if (cwd && syscall(SYS_chdir, cwd) < 0) die(err_fd, "chdir", errno, EXIT_RUNTIME);
  int all[8];
  if (nfds > 7) die(err_fd, "dup2", EINVAL, EXIT_RUNTIME);
  for (int i = 0; i < nfds; i++) all[i] = fds[i];
  r = arrange_fds(all, nfds);
  if (r < 0) die(err_fd, "dup2", -r, EXIT_RUNTIME);
  /* err_fd survived arrange_fds as close-on-exec: it closes on success. */
  if (syscall(SYS_setsid) < 0) die(err_fd, "setsid", errno, EXIT_RUNTIME);
  if (tty && syscall(SYS_ioctl, 0, TIOCSCTTY, 0) < 0) die(err_fd, "ioctl(TIOCSCTTY)", errno, EXIT_RUNTIME);
  exec_search(file, argv, envp);
  return -1;
}

/* skiff-runc --console-socket: hand the pty master to the client (podman's
 * conmon, containerd's shim) over a unix socket, as SCM_RIGHTS, with the
 * name "/dev/ptmx" as the payload (what runc sends). Returns 0 or -errno. */
#include <sys/socket.h>
#include <sys/un.h>
int skiff_send_fd(const char *path, int fd) {
  int s = (int)syscall(SYS_socket, AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s < 0) return -errno;
  struct sockaddr_un addr;
  memset(&addr, 0, sizeof(addr));
  addr.sun_family = AF_UNIX;
  if (strlen(path) >= sizeof(addr.sun_path)) { syscall(SYS_close, s); return -ENAMETOOLONG; }
  strcpy(addr.sun_path, path);
  if (syscall(SYS_connect, s, (struct sockaddr *)&addr, sizeof(addr)) < 0) { int e = errno; syscall(SYS_close, s); return -e; }
  char name[] = "/dev/ptmx";
  struct iovec iov = { name, sizeof(name) - 1 };
  char cbuf[CMSG_SPACE(sizeof(int))];
  memset(cbuf, 0, sizeof(cbuf));
  struct msghdr msg;
  memset(&msg, 0, sizeof(msg));
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = cbuf;
  msg.msg_controllen = sizeof(cbuf);
  struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(c), &fd, sizeof(int));
  long n = syscall(SYS_sendmsg, s, &msg, 0);
  int e = errno;
  syscall(SYS_close, s);
  return n < 0 ? -e : 0;
}
