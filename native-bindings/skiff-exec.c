/*
 * skiff-exec.c — the last step before the container's command runs.
 *
 * Why it exists: the container's first process is a clone of the Node
 * parent (see skiff_clone): single-threaded, but with Node's whole address
 * space mapped. The parent builds the root filesystem for it, and it then
 * execs this tiny static binary (through an fd, since the host's files have
 * no path after pivot_root), so that nothing of Node is left when it joins
 * the container's cgroup. This stub then:
 *
 *   1. writes "R" on fd 3 (the error pipe): "Node is gone, join me now";
 *   2. waits for one byte on fd 4 while the parent puts it in the cgroup;
 *   3. unshares the cgroup namespace (rooted at the cgroup it is now in);
 *   4. narrows the capability bounding set to the container's set, drops to
 *      the container user, sets the remaining capabilities, clears ambient;
 *   5. (skiff-runc create: says "H" and waits for a byte on fd 5, a fifo)
 *   6. chdirs and execs the command, searching PATH if it has no slash. fd 3
 *      is close-on-exec, so the parent sees EOF. (The seccomp filter was
 *      installed before this exec and covers this stub too, which is why it
 *      allows unshare(CLONE_NEWCGROUP).)
 *
 * On failure it writes "stage:errno" on fd 3 and exits 125/126/127.
 *
 * usage: skiff-exec UID GID GROUPS(comma list or -) NEWCGROUP(0|1) CAPMASK(hex, or 5 hex masks B,E,P,I,A) CWD FILE ARGV0 [ARGS...]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

extern char **environ;

static void fail(const char *stage, int err, int code);
#define CAPS_FAIL(stage, err) fail(stage, err, 125)
#include "skiff-caps.h"
#define PATH_FAIL(stage, err, code) fail(stage, err, code)
#include "skiff-path.h"

static void fail(const char *stage, int err, int code) {
  char buf[64];
  size_t n = strlen(stage);
  memcpy(buf, stage, n);
  buf[n++] = ':';
  char digits[12];
  int d = 0;
  do { digits[d++] = (char)('0' + err % 10); err /= 10; } while (err && d < 11);
  while (d) buf[n++] = digits[--d];
  (void)!write(3, buf, n);
  _exit(code);
}

int main(int argc, char **argv) {
  if (argc < 9) fail("usage", EINVAL, 125);
  uid_t uid = (uid_t)strtoul(argv[1], NULL, 10);
  gid_t gid = (gid_t)strtoul(argv[2], NULL, 10);
  gid_t groups[64];
  int ngroups = 0;
  if (strcmp(argv[3], "-") != 0) {
    for (char *p = argv[3]; *p && ngroups < 64;) {
      groups[ngroups++] = (gid_t)strtoul(p, &p, 10);
      if (*p == ',') p++;
    }
  }

  if (write(3, "R", 1) != 1) fail("ready", errno, 125);
  char c;
  ssize_t r;
  do { r = read(4, &c, 1); } while (r < 0 && errno == EINTR);
  if (r != 1) fail("sync", r < 0 ? errno : EPIPE, 125);
  close(4);

  if (argv[4][0] == '1' && unshare(CLONE_NEWCGROUP) < 0) fail("unshare(CLONE_NEWCGROUP)", errno, 125);
  /* CAPMASK is one mask, or (skiff-runc) five: bounding,effective,permitted,inheritable,ambient. */
  unsigned long long sets[5];
  int nsets = 0;
  for (char *p = argv[5]; nsets < 5;) {
    sets[nsets++] = strtoull(p, &p, 16);
    if (*p != ',') break;
    p++;
  }
  unsigned long long caps = sets[0];
  caps_drop_bounding(caps);
  if (nsets == 5 && prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0) fail("prctl(PR_SET_KEEPCAPS)", errno, 125);
  /* Raw syscalls: this process is single-threaded, and the ids must change
   * for this thread only, right before exec. */
  if (syscall(SYS_setgroups, ngroups, groups) < 0) fail("setgroups", errno, 125);
  if (syscall(SYS_setresgid, gid, gid, gid) < 0) fail("setresgid", errno, 125);
  if (syscall(SYS_setresuid, uid, uid, uid) < 0) fail("setresuid", errno, 125);
  if (nsets == 5) {
    caps_set_oci(sets[1], sets[2], sets[3], sets[4]);
    if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0) fail("prctl(PR_SET_KEEPCAPS)", errno, 125);
  } else {
    caps_set(caps, uid);
  }
  if (chdir(argv[6]) < 0) fail("chdir", errno, 125);

  /* skiff-runc create hands over a fifo as fd 5 (elsewhere fd 5 is closed):
   * everything is done but the exec. Say "H" (holding) and wait there until
   * `start` writes a byte into the fifo. */
  if (fcntl(5, F_GETFD) >= 0) {
    if (write(3, "H", 1) != 1) fail("hold", errno, 125);
    do { r = read(5, &c, 1); } while (r < 0 && errno == EINTR);
    if (r != 1) fail("start", r < 0 ? errno : EPIPE, 125);
    close(5);
  }

  if (fcntl(3, F_SETFD, FD_CLOEXEC) < 0) fail("fcntl", errno, 125);
  exec_search(argv[7], argv + 8, environ);
  return 127;
}
