/*
 * gVisor release 20221219 (Debian's runsc) rejects statx() with
 * AT_NO_AUTOMOUNT by EINVAL, and coreutils always passes that flag, so `ls -l`
 * and `stat` fail inside the sandbox. This preloaded shim retries without the
 * flag, only after EINVAL: there are no automount points in the sandbox, so
 * the answer is the same. Under runc the first call succeeds and nothing changes.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

int statx(int dirfd, const char *path, int flags, unsigned int mask, struct statx *buf) {
  long result = syscall(SYS_statx, dirfd, path, flags, mask, buf);
  if (result == -1 && errno == EINVAL && (flags & AT_NO_AUTOMOUNT)) {
    result = syscall(SYS_statx, dirfd, path, flags & ~AT_NO_AUTOMOUNT, mask, buf);
  }
  return (int)result;
}
