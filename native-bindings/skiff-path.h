/*
 * skiff-path.h — execve() with a PATH search, shared by skiff-exec (run) and
 * skiff_nsexec (exec). The includer defines PATH_FAIL(stage, errno, code),
 * which must not return. The TypeScript side has already checked, with
 * Docker's wording, that the command exists; this finds the same file.
 */
#include <errno.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef EXIT_NOT_FOUND
#define EXIT_CANNOT_INVOKE 126
#define EXIT_NOT_FOUND 127
#endif

/* execve() `file`, searching PATH from envp when it has no slash, the way
 * execvpe does (but without touching glibc state). */
static void exec_search(const char *file, char *const argv[], char *const envp[]) {
  if (strchr(file, '/')) {
    syscall(SYS_execve, file, argv, envp);
    PATH_FAIL("exec", errno, errno == ENOENT ? EXIT_NOT_FOUND : EXIT_CANNOT_INVOKE);
  }
  const char *path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  for (int i = 0; envp[i]; i++)
    if (strncmp(envp[i], "PATH=", 5) == 0) path = envp[i] + 5;
  int saw_eacces = 0;
  size_t flen = strlen(file);
  for (const char *p = path;;) {
    const char *colon = strchr(p, ':');
    size_t dlen = colon ? (size_t)(colon - p) : strlen(p);
    char buf[4096];
    if (dlen + flen + 2 < sizeof(buf)) {
      size_t n = 0;
      if (dlen == 0) buf[n++] = '.';
      else { memcpy(buf, p, dlen); n = dlen; }
      buf[n++] = '/';
      memcpy(buf + n, file, flen + 1);
      syscall(SYS_execve, buf, argv, envp);
      if (errno == EACCES) saw_eacces = 1;
      else if (errno != ENOENT && errno != ENOTDIR) PATH_FAIL("exec", errno, EXIT_CANNOT_INVOKE);
    }
    if (!colon) break;
    p = colon + 1;
  }
  if (saw_eacces) PATH_FAIL("exec", EACCES, EXIT_CANNOT_INVOKE);
  PATH_FAIL("lookup", ENOENT, EXIT_NOT_FOUND);
}

