/*
 * skiff-caps.h — capability and seccomp steps shared by skiff-exec (run)
 * and skiff_nsexec (exec), so both leave a process with the same powers.
 * The includer defines CAPS_FAIL(stage, errno), which must not return.
 */
#include <errno.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Bounding set first: it needs CAP_SETPCAP, so it runs while still root. */
static inline void caps_drop_bounding(unsigned long long mask) {
  for (int cap = 0; cap <= 63; cap++) {
    if (mask & (1ULL << cap)) continue;
    if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL) CAPS_FAIL("prctl(PR_CAPBSET_DROP)", errno);
  }
}

/* After the id switch: root keeps exactly MASK (as far as this process has
 * it); anyone else ends with no capabilities, as in Docker (setresuid away
 * from 0 already cleared permitted and effective). Inheritable and ambient
 * are empty: an inheritable set would let a file with inheritable file
 * capabilities regain them across execve, even for a non-root user
 * (CVE-2022-24769; Docker >= 20.10.14 and runc >= 1.1.1 leave it empty). */
static inline void caps_set(unsigned long long mask, unsigned uid) {
  struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
  struct __user_cap_data_struct data[2];
  memset(data, 0, sizeof(data));
  /* A capability this process lacks cannot be granted (e.g. --privileged
   * where the host's root itself runs without CAP_SYS_RESOURCE). */
  if (syscall(SYS_capget, &hdr, data) < 0) CAPS_FAIL("capget", errno);
  mask &= ((unsigned long long)data[1].permitted << 32) | data[0].permitted;
  memset(data, 0, sizeof(data));
  if (uid == 0) {
    for (int i = 0; i < 2; i++) data[i].effective = data[i].permitted = (unsigned)(mask >> (32 * i));
  }
  if (syscall(SYS_capset, &hdr, data) < 0) CAPS_FAIL("capset", errno);
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL) CAPS_FAIL("prctl(PR_CAP_AMBIENT)", errno);
}

/* no_new_privs and a seccomp filter (a sock_filter array built in TypeScript). */
static inline void seccomp_install(const void *prog, int len, int nnp) {
  if (nnp && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) CAPS_FAIL("prctl(PR_SET_NO_NEW_PRIVS)", errno);
  if (!prog || len <= 0) return;
  struct sock_fprog fprog = { (unsigned short)(len / 8), (struct sock_filter *)prog };
  if (syscall(SYS_seccomp, 1 /* SECCOMP_SET_MODE_FILTER */, 0, &fprog) < 0) CAPS_FAIL("seccomp", errno);
}

/* skiff-runc: an OCI config's own sets (effective, permitted, inheritable,
 * ambient), applied after the id switch. The caller set PR_SET_KEEPCAPS
 * before it, so a non-root user keeps what the config gives it. Sets are
 * narrowed to what this process has, as caps_set does. */
static inline void caps_set_oci(unsigned long long eff, unsigned long long prm, unsigned long long inh, unsigned long long amb) {
  struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
  struct __user_cap_data_struct data[2];
  memset(data, 0, sizeof(data));
  if (syscall(SYS_capget, &hdr, data) < 0) CAPS_FAIL("capget", errno);
  unsigned long long have = ((unsigned long long)data[1].permitted << 32) | data[0].permitted;
  prm &= have;
  eff &= prm;
  inh &= have | (((unsigned long long)data[1].inheritable << 32) | data[0].inheritable);
  memset(data, 0, sizeof(data));
  for (int i = 0; i < 2; i++) {
    data[i].effective = (unsigned)(eff >> (32 * i));
    data[i].permitted = (unsigned)(prm >> (32 * i));
    data[i].inheritable = (unsigned)(inh >> (32 * i));
  }
  if (syscall(SYS_capset, &hdr, data) < 0) CAPS_FAIL("capset", errno);
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL) CAPS_FAIL("prctl(PR_CAP_AMBIENT)", errno);
  for (int cap = 0; cap <= 63; cap++) {
    if (!(amb & prm & inh & (1ULL << cap))) continue;
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) < 0 && errno != EINVAL) CAPS_FAIL("prctl(PR_CAP_AMBIENT_RAISE)", errno);
  }
}
