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
 * usage: skiff-shim CHILD_PID LOG_PATH OUT_FD ERR_FD HOLD_FD HOLD_FD [tcp:FD:IP:PORT...] [udp:FD:IP:PORT...] [attach:FD] [listen:FD] [notify:FD] -- FINALIZER ARGS...
 *   OUT_FD/ERR_FD: read ends of the container's stdout/stderr (-1 if none;
 *   with a tty, OUT_FD is the pty master and ERR_FD is -1).
 *   HOLD_FDs: fds to keep open while the container runs, or -1: the write end
 *   of a `-di` stdin, and a pty's slave (held so that output still in flight
 *   when the command exits is not lost to the hang-up).
 *   tcp:FD:IP:PORT: a published TCP port's listening socket (bound by the
 *   Node monitor, which is also the port's reservation), relayed to the
 *   container's IP:PORT: the userland proxy for what DNAT does not carry
 *   (loopback clients, containers dialing a host address). Byte pipes with
 *   half-close, as docker-proxy does.
 *   udp:FD:IP:PORT: the same for a published UDP port's bound socket: each
 *   client address gets a socket of its own towards the container, dropped
 *   after 90 s without traffic (docker-proxy's UDP timeout).
 *   attach:FD: with a tty, a connection to a client attached to the terminal
 *   (the Engine API's attach; see io.ts): what the master says goes to it as
 *   well as to the log, what it sends is typed into the master, so echo and
 *   line editing are the container's line discipline's, as in Docker.
 *   listen:FD: with a tty, a listening unix socket (tty.sock) where clients
 *   attach later (`docker attach`); each connection is one more attach.
 *   notify:FD: a socket to the Engine API service that started the container.
 *   At the exit the shim writes "CODE\n" there; the service, whose Node is
 *   already warm, records the exit and cleans up, then answers "done\n" and
 *   the shim just exits. Without that answer (the service is gone or died
 *   meanwhile) the shim falls back to the finalizer, so a container never
 *   depends on the service (daemonless).
 * When the child has exited and the output is drained, it execs the
 * finalizer with the exit code appended: `... FINALIZER ARGS... CODE`.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int log_fd = -1;
static int notify_fd = -1;

/* Only there to make ppoll return (EINTR) the moment the container exits. */
static void on_sigchld(int sig) { (void)sig; }

/* Asks the service to finalize; 1 if it did. */
static int service_finalized(int code) {
  char msg[16], reply[8];
  int n = snprintf(msg, sizeof(msg), "%d\n", code);
  if (write(notify_fd, msg, (size_t)n) != n) return 0;
  size_t got = 0;
  while (got < 5) {
    /* A service that is alive but stuck must not keep the exit unrecorded:
     * after 30 s the finalizer does it (finalizing twice is harmless). */
    struct pollfd pr = { notify_fd, POLLIN, 0 };
    int ready = poll(&pr, 1, 30000);
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) return 0;
    ssize_t r = read(notify_fd, reply + got, 5 - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return 0;
    got += (size_t)r;
  }
  return memcmp(reply, "done\n", 5) == 0;
}

/* Attached clients (attach:FD, and those accepted on listen:FD), and what
 * was typed that the master has not taken yet. */
#define MAX_ATTACH 8
static int attach_fds[MAX_ATTACH], attach_eof[MAX_ATTACH], nattach;
static int listen_fd = -1;
static char typed[4096];
static size_t typed_len, typed_off;

static void add_attach(int fd) {
  if (nattach == MAX_ATTACH) { close(fd); return; }
  fcntl(fd, F_SETFD, FD_CLOEXEC);
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); /* see to_attach */
  attach_eof[nattach] = 0;
  attach_fds[nattach++] = fd;
}

static void drop_attach(int i) {
  close(attach_fds[i]);
  attach_fds[i] = attach_fds[--nattach];
  attach_eof[i] = attach_eof[nattach];
}

static void drop_all_attach(void) {
  while (nattach) drop_attach(0);
  if (listen_fd >= 0) close(listen_fd);
  listen_fd = -1;
  typed_len = typed_off = 0;
}

/* Output for the attached clients. A client that takes nothing for a second
 * is dropped: waiting on it longer would stall the log, the published ports
 * and the exit for everyone. */
static void to_attach(const char *buf, size_t len) {
  for (int i = nattach - 1; i >= 0; i--) {
    for (size_t off = 0; off < len;) {
      ssize_t w = send(attach_fds[i], buf + off, len - off, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (w < 0 && errno == EINTR) continue;
      if (w < 0 && errno == EAGAIN) {
        struct pollfd pw = { attach_fds[i], POLLOUT, 0 };
        if (poll(&pw, 1, 1000) == 1 && !(pw.revents & (POLLERR | POLLHUP))) continue;
      }
      if (w <= 0) { drop_attach(i); break; }
      off += (size_t)w;
    }
  }
}

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
  if (strcmp(s->name, "stdout") == 0) to_attach(buf, (size_t)r); /* only a tty has an attach: this is its master */
  for (ssize_t i = 0; i < r; i++) {
    s->line[s->len++] = buf[i];
    if (buf[i] == '\n' || s->len == sizeof(s->line)) emit(s);
  }
  return 1;
}

/* ---- the userland proxy: published TCP and UDP ports ---------------------- */

#define MAX_PROXIES 64
#define BUF 16384

struct proxy { int fd; struct sockaddr_in to; int udp; };
/* One relayed connection: a = the client, b = the container. */
struct conn {
  int a, b, connecting;
  int a_eof, b_eof;         /* read side saw EOF */
  int a_shut, b_shut;       /* write side half-closed after the other's EOF */
  char ab[BUF]; size_t ab_len, ab_off;   /* client -> container */
  char ba[BUF]; size_t ba_len, ba_off;   /* container -> client */
};

static struct proxy proxies[MAX_PROXIES];
static int nproxies;
static struct conn **conns;
static int nconns, capconns;

static int parse_proxy(const char *arg) {
  char ip[64];
  int fd, port;
  int udp = strncmp(arg, "udp:", 4) == 0;
  if (nproxies == MAX_PROXIES || sscanf(arg + 4, "%d:%63[^:]:%d", &fd, ip, &port) != 3) return -1;
  if (!udp && strncmp(arg, "tcp:", 4) != 0) return -1;
  struct proxy *p = &proxies[nproxies];
  p->udp = udp;
  memset(&p->to, 0, sizeof(p->to));
  p->to.sin_family = AF_INET;
  p->to.sin_port = htons((uint16_t)port);
  if (inet_pton(AF_INET, ip, &p->to.sin_addr) != 1) return -1;
  p->fd = fd;
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  fcntl(fd, F_SETFD, FD_CLOEXEC); /* the finalizer must not inherit the reservation */
  nproxies++;
  return 0;
}

static void conn_close(int i) {
  close(conns[i]->a);
  close(conns[i]->b);
  free(conns[i]);
  conns[i] = conns[--nconns];
}

static int grow_conns(void) {
  if (nconns < capconns) return 0;
  int cap = capconns ? capconns * 2 : 16;
  struct conn **n = realloc(conns, sizeof(*conns) * (size_t)cap);
  if (!n) return -1;
  conns = n;
  capconns = cap;
  return 0;
}

static void accept_all(struct proxy *p) {
  for (;;) {
    int a = accept4(p->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (a < 0) return; /* EAGAIN, or a client gone before we took it */
    int b = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    struct conn *c = calloc(1, sizeof(*c));
    int r = b < 0 ? -1 : connect(b, (struct sockaddr *)&p->to, sizeof(p->to));
    if (b < 0 || !c || (r < 0 && errno != EINPROGRESS) || grow_conns() < 0) {
      close(a);
      if (b >= 0) close(b);
      free(c);
      continue;
    }
    int one = 1;
    setsockopt(a, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    setsockopt(b, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    c->a = a;
    c->b = b;
    c->connecting = r < 0;
    conns[nconns++] = c;
  }
}

/* Moves bytes from `from` into buf; returns -1 on error. */
static int fill(int from, char *buf, size_t *len, int *eof) {
  if (*eof || *len == BUF) return 0;
  ssize_t r = read(from, buf + *len, BUF - *len);
  if (r > 0) *len += (size_t)r;
  else if (r == 0) *eof = 1;
  else if (errno != EAGAIN && errno != EINTR) return -1;
  return 0;
}

/* Writes what buf holds to `to`; at the writer's EOF with nothing left, half-closes `to`. */
static int drain(int to, char *buf, size_t *len, size_t *off, int eof, int *shut) {
  while (*off < *len) {
    ssize_t w = write(to, buf + *off, *len - *off);
    if (w < 0) return errno == EAGAIN || errno == EINTR ? 0 : -1;
    *off += (size_t)w;
  }
  *len = *off = 0;
  if (eof && !*shut) { shutdown(to, SHUT_WR); *shut = 1; }
  return 0;
}

/* One step of a connection after poll; returns 1 when it is finished. */
static int conn_step(struct conn *c, short ra, short rb) {
  if (c->connecting) {
    if (!(rb & (POLLOUT | POLLERR | POLLHUP))) return 0;
    int err = 0;
    socklen_t l = sizeof(err);
    if (getsockopt(c->b, SOL_SOCKET, SO_ERROR, &err, &l) < 0 || err) return 1; /* container not listening: the client sees a close */
    c->connecting = 0;
  }
  /* An error, or a hang-up of a side already read to its end: nothing more can pass. */
  if ((ra | rb) & POLLERR || ((ra & POLLHUP) && c->a_eof) || ((rb & POLLHUP) && c->b_eof)) return 1;
  if (ra & (POLLIN | POLLHUP)) if (fill(c->a, c->ab, &c->ab_len, &c->a_eof) < 0) return 1;
  if (rb & (POLLIN | POLLHUP)) if (fill(c->b, c->ba, &c->ba_len, &c->b_eof) < 0) return 1;
  if (drain(c->b, c->ab, &c->ab_len, &c->ab_off, c->a_eof, &c->b_shut) < 0) return 1;
  if (drain(c->a, c->ba, &c->ba_len, &c->ba_off, c->b_eof, &c->a_shut) < 0) return 1;
  return c->a_eof && c->b_eof && c->ab_len == 0 && c->ba_len == 0;
}

static short want_a(struct conn *c) {
  return (short)((!c->a_eof && c->ab_len < BUF && !c->connecting ? POLLIN : 0) | (c->ba_len ? POLLOUT : 0));
}
static short want_b(struct conn *c) {
  if (c->connecting) return POLLOUT;
  return (short)((!c->b_eof && c->ba_len < BUF ? POLLIN : 0) | (c->ab_len ? POLLOUT : 0));
}

/* UDP: one flow per client address, with its own (connected) socket towards the container. */
#define MAX_FLOWS 1024
#define UDP_IDLE_S 90
struct flow { int up, proxy; struct sockaddr_in client; time_t last; };
static struct flow flows[MAX_FLOWS];
static int nflows;
static char datagram[65536];

static time_t now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec;
}

static void flow_close(int i) {
  close(flows[i].up);
  flows[i] = flows[--nflows];
}

/* Datagrams from clients: each to its client's flow, made on its first. */
static void udp_in(int pi) {
  struct proxy *p = &proxies[pi];
  for (;;) {
    struct sockaddr_in from;
    socklen_t fl = sizeof(from);
    ssize_t n = recvfrom(p->fd, datagram, sizeof(datagram), MSG_DONTWAIT, (struct sockaddr *)&from, &fl);
    if (n < 0) return;
    int i = 0;
    while (i < nflows && !(flows[i].proxy == pi && flows[i].client.sin_port == from.sin_port &&
                           flows[i].client.sin_addr.s_addr == from.sin_addr.s_addr)) i++;
    if (i == nflows) {
      if (nflows == MAX_FLOWS) continue; /* full: dropped, as a datagram may be */
      int up = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      /* Connected: only the container's address and port are read from it. */
      if (up < 0 || connect(up, (struct sockaddr *)&p->to, sizeof(p->to)) < 0) {
        if (up >= 0) close(up);
        continue;
      }
      flows[nflows++] = (struct flow){ up, pi, from, 0 };
    }
    flows[i].last = now_s();
    send(flows[i].up, datagram, (size_t)n, MSG_DONTWAIT);
  }
}

/* Replies from the container, back to the flow's client; 1 when the flow is broken. */
static int udp_out(struct flow *f) {
  for (;;) {
    ssize_t n = recv(f->up, datagram, sizeof(datagram), MSG_DONTWAIT);
    if (n < 0) return errno != EAGAIN && errno != EINTR;
    f->last = now_s();
    sendto(proxies[f->proxy].fd, datagram, (size_t)n, MSG_DONTWAIT, (struct sockaddr *)&f->client, sizeof(f->client));
  }
}

/* The container is gone: nothing to relay to; release the ports. */
static void stop_proxies(void) {
  while (nflows) flow_close(0);
  while (nconns) conn_close(0);
  for (int i = 0; i < nproxies; i++) close(proxies[i].fd);
  nproxies = 0;
}

int main(int argc, char **argv) {
  int dash = 7;
  while (dash < argc && strcmp(argv[dash], "--") != 0) {
    if (strncmp(argv[dash], "notify:", 7) == 0) {
      notify_fd = atoi(argv[dash] + 7);
      fcntl(notify_fd, F_SETFD, FD_CLOEXEC);
      fcntl(notify_fd, F_SETFL, fcntl(notify_fd, F_GETFL) & ~O_NONBLOCK); /* the answer is waited for */
    } else if (strncmp(argv[dash], "attach:", 7) == 0) add_attach(atoi(argv[dash] + 7));
    else if (strncmp(argv[dash], "listen:", 7) == 0) {
      listen_fd = atoi(argv[dash] + 7);
      fcntl(listen_fd, F_SETFD, FD_CLOEXEC);
      fcntl(listen_fd, F_SETFL, fcntl(listen_fd, F_GETFL) | O_NONBLOCK);
    } else if (parse_proxy(argv[dash]) < 0) return 125;
    dash++;
  }
  if (argc < 8 || dash + 1 >= argc) return 125;
  pid_t child = (pid_t)atoi(argv[1]);
  log_fd = open(argv[2], O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
  struct stream streams[2] = { { atoi(argv[3]), "stdout", {0}, 0 }, { atoi(argv[4]), "stderr", {0}, 0 } };
  int holds[2] = { atoi(argv[5]), atoi(argv[6]) };
  /* Typed input goes into the master without blocking: output must keep flowing meanwhile. */
  if ((nattach || listen_fd >= 0) && streams[0].fd >= 0) fcntl(streams[0].fd, F_SETFL, fcntl(streams[0].fd, F_GETFL) | O_NONBLOCK);
  else drop_all_attach();
  signal(SIGHUP, SIG_IGN);
  signal(SIGINT, SIG_IGN);
  signal(SIGPIPE, SIG_IGN);
  /* SIGCHLD stays blocked except inside ppoll, so an exit between the
   * waitpid check and the wait cannot be missed: ppoll returns at once. */
  struct sigaction sa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = on_sigchld;
  sigaction(SIGCHLD, &sa, NULL);
  sigset_t chld, waitmask;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  sigprocmask(SIG_BLOCK, &chld, &waitmask);
  sigdelset(&waitmask, SIGCHLD);

  int status = 0, exited = 0;
  /* The fixed part of the poll set, allocated up front so that a failed
   * realloc later can always fall back to it. */
  size_t cap = 3 + MAX_ATTACH;
  struct pollfd *p = calloc(cap, sizeof(*p));
  if (!p) return 125;
  for (;;) {
    if (!exited) {
      pid_t w = waitpid(child, &status, WNOHANG);
      if (w == child) exited = 1;
      else if (w < 0 && errno == ECHILD) { exited = 1; status = 255 << 8; } /* reaped elsewhere: unknown */
      if (exited) stop_proxies();
    }
    /* UDP flows without traffic for UDP_IDLE_S end (the poll wakes at least every 200 ms). */
    if (nflows) {
      time_t t = now_s();
      for (int i = nflows - 1; i >= 0; i--) if (t - flows[i].last > UDP_IDLE_S) flow_close(i);
    }
    /* The poll set: the two output streams, the attached clients and tty.sock, the port listeners, two per connection, one per UDP flow. */
    size_t need = 3 + MAX_ATTACH + (size_t)nproxies + 2 * (size_t)nconns + (size_t)nflows;
    if (need > cap) {
      struct pollfd *np = realloc(p, need * sizeof(*p));
      if (!np) { stop_proxies(); need = 3 + MAX_ATTACH; } else { p = np; cap = need; }
    }
    int n = 0, nstreams = 0;
    if (streams[0].fd < 0) drop_all_attach(); /* no terminal left to relay */
    if (exited && listen_fd >= 0) { close(listen_fd); listen_fd = -1; } /* nobody new to let in */
    for (int i = 0; i < 2; i++) {
      if (streams[i].fd < 0) continue;
      short ev = (short)(POLLIN | (i == 0 && typed_len > typed_off ? POLLOUT : 0));
      p[n++] = (struct pollfd){ streams[i].fd, ev, 0 };
      nstreams++;
    }
    /* Clients are read only when what they typed before has gone into the master. */
    int attach_slot = n, polled_attach = 0;
    if (!exited && typed_len == typed_off) {
      for (int i = 0; i < nattach; i++) p[n++] = (struct pollfd){ attach_fds[i], (short)(attach_eof[i] ? 0 : POLLIN), 0 };
      polled_attach = nattach;
    }
    int listen_slot = -1;
    if (listen_fd >= 0) { listen_slot = n; p[n++] = (struct pollfd){ listen_fd, POLLIN, 0 }; }
    for (int i = 0; i < nproxies; i++) p[n++] = (struct pollfd){ proxies[i].fd, POLLIN, 0 };
    for (int i = 0; i < nconns; i++) {
      p[n++] = (struct pollfd){ conns[i]->a, want_a(conns[i]), 0 };
      p[n++] = (struct pollfd){ conns[i]->b, want_b(conns[i]), 0 };
    }
    int first_flow = n, polled_flows = nflows;
    for (int i = 0; i < nflows; i++) p[n++] = (struct pollfd){ flows[i].up, POLLIN, 0 };
    if (n == 0) {
      if (exited) break;
      /* Nothing to read or relay: just wait for the child. */
      pid_t w = waitpid(child, &status, 0);
      if (w == child || (w < 0 && errno == ECHILD)) exited = 1;
      continue;
    }
    /* After the exit, give in-flight output a short while, then stop. */
    struct timespec ts = { 0, (exited ? 50 : 200) * 1000000L };
    int r = ppoll(p, (nfds_t)n, &ts, &waitmask);
    if (r == 0 && exited) break;
    if (r <= 0) continue;
    /* Clients before the output, whose sending may drop one (that reorders them). Backwards: drop_attach moves the last client into the freed slot. */
    for (int i = polled_attach - 1; i >= 0; i--) {
      short re = p[attach_slot + i].revents;
      if (attach_eof[i]) { /* polled for nothing: only a hang-up shows, when it closed altogether */
        if (re & (POLLHUP | POLLERR)) drop_attach(i);
        continue;
      }
      if (typed_len == typed_off && (re & (POLLIN | POLLHUP | POLLERR))) {
        ssize_t r2 = read(attach_fds[i], typed, sizeof(typed));
        if (r2 > 0) { typed_len = (size_t)r2; typed_off = 0; }
        else if (r2 == 0) attach_eof[i] = 1; /* it sends no more (detached, or half-closed); it may still read */
        else if (errno != EINTR && errno != EAGAIN) drop_attach(i);
      }
    }
    if (listen_slot >= 0 && (p[listen_slot].revents & POLLIN)) {
      int a;
      while ((a = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) add_attach(a);
    }
    int k = 0;
    for (int i = 0; i < 2; i++) {
      if (streams[i].fd < 0) continue;
      if (i == 0 && (p[k].revents & POLLOUT) && typed_len > typed_off) {
        ssize_t w = write(streams[0].fd, typed + typed_off, typed_len - typed_off);
        if (w > 0) typed_off += (size_t)w;
        if (typed_off == typed_len) typed_len = typed_off = 0;
      }
      if (p[k].revents & (POLLIN | POLLHUP | POLLERR)) {
        if (!pump(&streams[i])) {
          emit(&streams[i]);
          close(streams[i].fd);
          streams[i].fd = -1;
        }
      }
      k++;
    }
    k = listen_slot >= 0 ? listen_slot + 1 : attach_slot + polled_attach;
    int first_conn = k + nproxies, polled_conns = nconns;
    /* Flows first: udp_in below may add flows, which were not polled. Backwards: flow_close moves the last flow into the freed slot. */
    for (int i = polled_flows - 1; i >= 0; i--) {
      if (p[first_flow + i].revents & (POLLIN | POLLERR)) if (udp_out(&flows[i])) flow_close(i);
    }
    for (int i = 0; i < nproxies; i++, k++) {
      if (!(p[k].revents & POLLIN)) continue;
      if (proxies[i].udp) udp_in(i);
      else accept_all(&proxies[i]);
    }
    /* Backwards: conn_close moves the last connection into the freed slot. */
    for (int i = polled_conns - 1; i >= 0; i--) {
      if (conn_step(conns[i], p[first_conn + 2 * i].revents, p[first_conn + 2 * i + 1].revents)) conn_close(i);
    }
  }
  stop_proxies();
  drop_all_attach();
  for (int i = 0; i < 2; i++) emit(&streams[i]);
  for (int i = 0; i < 2; i++) if (holds[i] >= 0) close(holds[i]);
  int code = WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);

  if (notify_fd >= 0 && service_finalized(code)) return 0;
  /* The finalizer (Node) must not start with SIGCHLD blocked: the mask survives execve. */
  sigprocmask(SIG_UNBLOCK, &chld, NULL);
  signal(SIGCHLD, SIG_DFL);

  /* Hand back to Node to record the exit (cgroup OOM check, unmount, state). */
  char codebuf[16];
  snprintf(codebuf, sizeof(codebuf), "%d", code);
  char *fin[64];
  int k = 0;
  for (int i = dash + 1; i < argc && k < 62; i++) fin[k++] = argv[i];
  fin[k++] = codebuf;
  fin[k] = NULL;
  execv(fin[0], fin);
  return 125;
}
