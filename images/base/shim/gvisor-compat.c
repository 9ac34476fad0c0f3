/*
 * Two gVisor bugs that break everyday tools in the sandbox, each mended only on
 * its error path, so a kernel (runc) or a gVisor without the bug never takes it:
 *
 * - statx: gVisor 20221219 (Debian bookworm's runsc) rejects AT_NO_AUTOMOUNT with
 *   EINVAL, and coreutils always passes that flag, so `ls -l` and `stat` fail.
 *   The retry drops the flag: there are no automount points in the sandbox, so the
 *   answer is the same. Newer releases (20240729, bookworm-backports) accept it.
 * - xattrs of a symlink: gVisor 20240729 answers lgetxattr/llistxattr on a symlink
 *   with EBADF (gVisor issue 11049, fixed upstream after 2024-10), so `ls -l /`
 *   prints "Bad file descriptor" for each link. A path-based call has no file
 *   descriptor, so Linux never returns EBADF there: it becomes ENOTSUP, "this file
 *   has no extended attributes", which is what the tools then assume.
 *
 * Preloaded through /etc/ld.so.preload; test/e2e/gvisor-runtime.test.ts checks both
 * against every runsc release it finds.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

int statx(int dirfd, const char *path, int flags, unsigned int mask, struct statx *buf) {
  long result = syscall(SYS_statx, dirfd, path, flags, mask, buf);
  if (result == -1 && errno == EINVAL && (flags & AT_NO_AUTOMOUNT)) {
    result = syscall(SYS_statx, dirfd, path, flags & ~AT_NO_AUTOMOUNT, mask, buf);
  }
  return (int)result;
}

static ssize_t without_ebadf(long result) {
  if (result == -1 && errno == EBADF) errno = ENOTSUP;
  return (ssize_t)result;
}

ssize_t getxattr(const char *path, const char *name, void *value, size_t size) {
  return without_ebadf(syscall(SYS_getxattr, path, name, value, size));
}

ssize_t lgetxattr(const char *path, const char *name, void *value, size_t size) {
  return without_ebadf(syscall(SYS_lgetxattr, path, name, value, size));
}

ssize_t listxattr(const char *path, char *list, size_t size) {
  return without_ebadf(syscall(SYS_listxattr, path, list, size));
}

ssize_t llistxattr(const char *path, char *list, size_t size) {
  return without_ebadf(syscall(SYS_llistxattr, path, list, size));
}
