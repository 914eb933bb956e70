/*
 * skiff-shim.c — what a detached container's monitor becomes once the
 * container runs.
 *
 * Why: the monitor starts the container in Node (it needs the whole runtime
 * for that), but then only has to copy output into the json log and wait.
 * A Node process doing that costs ~50 MiB per container; this static program
 * costs well under 1 MiB. The Node monitor execve()s into it: the pid stays
 * the same, so the container's PID 1 is still our child and `ps`'s liveness
 * check (pid + start time) keeps working.
 *
 * usage: skiff-shim CHILD_PID LOG_PATH OUT_FD ERR_FD HOLD_FD HOLD_FD [PORT_FD...] -- FINALIZER ARGS...
 *   OUT_FD/ERR_FD: read ends of the container's stdout/stderr (-1 if none;
 *   with a tty, OUT_FD is the pty master and ERR_FD is -1).
 *   HOLD_FDs: fds to keep open while the container runs, or -1: the write end
 *   of a `-di` stdin, and a pty's slave (held so that output still in flight
 *   when the command exits is not lost to the hang-up).
 *   PORT_FDs: the bound sockets of published ports. They are the ports'
 *   reservation (DNAT carries the traffic), held here until the container
 *   exits, and closed before the finalizer runs so its cleanup frees the ports.
 * When the child has exited and the output is drained, it execs the
 * finalizer with the exit code appended: `... FINALIZER ARGS... CODE`.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int log_fd = -1;

struct stream {
  int fd;
  const char *name;
  char line[16384];
  size_t len;
};

/* One json-file record: {"log":"...","stream":"stdout","time":"..."} */
static void emit(struct stream *s) {
  if (s->len == 0) return;
  char out[16384 * 6 + 128];
  size_t n = 0;
  n += (size_t)snprintf(out + n, sizeof(out) - n, "{\"log\":\"");
  for (size_t i = 0; i < s->len; i++) {
    unsigned char c = (unsigned char)s->line[i];
    if (c == '"' || c == '\\') { out[n++] = '\\'; out[n++] = (char)c; }
    else if (c == '\n') { out[n++] = '\\'; out[n++] = 'n'; }
    else if (c == '\r') { out[n++] = '\\'; out[n++] = 'r'; }
    else if (c == '\t') { out[n++] = '\\'; out[n++] = 't'; }
    else if (c < 0x20) n += (size_t)snprintf(out + n, sizeof(out) - n, "\\u%04x", c);
    else out[n++] = (char)c;
  }
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  struct tm tm;
  gmtime_r(&ts.tv_sec, &tm);
  char when[64];
  strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
  n += (size_t)snprintf(out + n, sizeof(out) - n, "\",\"stream\":\"%s\",\"time\":\"%s.%09ldZ\"}\n", s->name, when, ts.tv_nsec);
  for (size_t off = 0; off < n;) {
    ssize_t w = write(log_fd, out + off, n - off);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) break;
    off += (size_t)w;
  }
  s->len = 0;
}

/* Reads what is there; returns 0 at EOF (or EIO: a pty with no slave left). */
static int pump(struct stream *s) {
  char buf[8192];
  ssize_t r = read(s->fd, buf, sizeof(buf));
  if (r < 0 && (errno == EINTR || errno == EAGAIN)) return 1;
  if (r <= 0) return 0;
  for (ssize_t i = 0; i < r; i++) {
    s->line[s->len++] = buf[i];
    if (buf[i] == '\n' || s->len == sizeof(s->line)) emit(s);
  }
  return 1;
}

int main(int argc, char **argv) {
  int sep = 7;
  while (sep < argc && strcmp(argv[sep], "--") != 0) sep++;
  if (sep + 1 >= argc) return 125;
  pid_t child = (pid_t)atoi(argv[1]);
  log_fd = open(argv[2], O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
  struct stream streams[2] = { { atoi(argv[3]), "stdout", {0}, 0 }, { atoi(argv[4]), "stderr", {0}, 0 } };
  int holds[2] = { atoi(argv[5]), atoi(argv[6]) };
  signal(SIGHUP, SIG_IGN);
  signal(SIGINT, SIG_IGN);
  signal(SIGPIPE, SIG_IGN);

  int status = 0, exited = 0;
  for (;;) {
    struct pollfd p[2];
    int n = 0;
    for (int i = 0; i < 2; i++) if (streams[i].fd >= 0) { p[n].fd = streams[i].fd; p[n].events = POLLIN; p[n].revents = 0; n++; }
    if (!exited) {
      pid_t w = waitpid(child, &status, WNOHANG);
      if (w == child) exited = 1;
      else if (w < 0 && errno == ECHILD) { exited = 1; status = 255 << 8; } /* reaped elsewhere: unknown */
    }
    if (n == 0) {
      if (exited) break;
      /* Nothing to read: just wait for the child. */
      pid_t w = waitpid(child, &status, 0);
      if (w == child || (w < 0 && errno == ECHILD)) exited = 1;
      continue;
    }
    /* After the exit, give in-flight output a short while, then stop. */
    int r = poll(p, (nfds_t)n, exited ? 50 : 200);
    if (r == 0 && exited) break;
    for (int k = 0, i = 0; i < 2; i++) {
      if (streams[i].fd < 0) continue;
      if (p[k].revents & (POLLIN | POLLHUP | POLLERR)) {
        if (!pump(&streams[i])) {
          emit(&streams[i]);
          close(streams[i].fd);
          streams[i].fd = -1;
        }
      }
      k++;
    }
  }
  for (int i = 0; i < 2; i++) emit(&streams[i]);
  for (int i = 0; i < 2; i++) if (holds[i] >= 0) close(holds[i]);
  for (int i = 7; i < sep; i++) close(atoi(argv[i]));
  int code = WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);

  /* Hand back to Node to record the exit (cgroup OOM check, unmount, state). */
  char codebuf[16];
  snprintf(codebuf, sizeof(codebuf), "%d", code);
  char *fin[64];
  int k = 0;
  for (int i = sep + 1; i < argc && k < 62; i++) fin[k++] = argv[i];
  fin[k++] = codebuf;
  fin[k] = NULL;
  execv(fin[0], fin);
  return 125;
}
