/* sysprobe NAME: makes one system call with harmless arguments and prints
 * "NAME ok" or "NAME errno=N". Built static by the security tests and
 * bind-mounted into containers, to try what busybox has no applet for. */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <sys/stat.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv) {
  if (argc < 2) return 2;
  const char *n = argv[1];
  long r;
  if (!strcmp(n, "keyctl")) r = syscall(SYS_keyctl, 0 /* KEYCTL_GET_KEYRING_ID */, -3 /* session */, 0);
  else if (!strcmp(n, "add_key")) r = syscall(SYS_add_key, "user", "skiff-probe", "x", 1, -3);
  else if (!strcmp(n, "bpf")) r = syscall(SYS_bpf, 0, NULL, 0);
  else if (!strcmp(n, "perf_event_open")) r = syscall(SYS_perf_event_open, NULL, 0, -1, -1, 0);
  else if (!strcmp(n, "userfaultfd")) r = syscall(SYS_userfaultfd, 0);
  else if (!strcmp(n, "setns")) r = syscall(SYS_setns, -1, 0);
  else if (!strcmp(n, "pivot_root")) r = syscall(SYS_pivot_root, "/nonexistent", "/nonexistent");
  else if (!strcmp(n, "umount2")) r = syscall(SYS_umount2, "/nonexistent", 0);
  else if (!strcmp(n, "acct")) r = syscall(SYS_acct, NULL);
  else if (!strcmp(n, "open_by_handle_at")) r = syscall(SYS_open_by_handle_at, -1, NULL, 0);
  else if (!strcmp(n, "clone_newns")) {
    r = syscall(SYS_clone, CLONE_NEWNS | SIGCHLD, NULL, NULL, NULL, NULL);
    if (r == 0) _exit(0);
  } else if (!strcmp(n, "clone_plain")) {
    r = syscall(SYS_clone, SIGCHLD, NULL, NULL, NULL, NULL);
    if (r == 0) _exit(0);
  } else if (!strcmp(n, "mkdir")) r = mkdir("/tmp/probe-dir", 0755);
  else return 2;
  if (r < 0) printf("%s errno=%d\n", n, errno);
  else printf("%s ok\n", n);
  return 0;
}
