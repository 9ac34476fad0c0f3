/*
 * Two gVisor bugs that break everyday tools in the sandbox, each mended only on
 * its error path, so a kernel (runc) or a gVisor without the bug never takes it:
 *
 * - statx: gVisor 20221219 (Debian bookworm's runsc) rejects AT_NO_AUTOMOUNT with
 *   EINVAL, and coreutils always passes that flag, so `ls -l` and `stat` fail.
 *   The retry drops the flag: there are no automount points in the sandbox, so the
 *   answer is the same. Newer releases (20240729, bookworm-backports) accept it.
 * - extended attributes: gVisor 20240729 (bookworm-backports) opens a file to read its
 *   xattrs, so lgetxattr/llistxattr answer EBADF on a symlink (gVisor issue 11049,
 *   fixed upstream after 2024-10) and EACCES on a folder the caller cannot read, and
 *   `ls -l /` prints "Bad file descriptor" for each link and "Permission denied" for
 *   /root. Linux never returns EBADF for a path-based call (there is no descriptor),
 *   nor EACCES for a path it can look up, except for user.* attributes of a file
 *   the caller may not read. Those answers become ENOTSUP, "no extended attributes
 *   here", which is what the tools then assume; a path that cannot be looked up
 *   keeps its EACCES.
 *
 * Preloaded through /etc/ld.so.preload; test/e2e/gvisor-runtime.test.ts checks both
 * against every runsc release it finds.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <string.h>
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

/* ENOTSUP for the errors only gVisor gives (see the top); follow: stat, not lstat. */
static ssize_t mended(long result, const char *path, const char *name, int follow) {
  if (result != -1) return (ssize_t)result;
  int error = errno;
  struct stat st;
  if (error == EBADF) {
    error = ENOTSUP;
  } else if (error == EACCES && !(name && strncmp(name, "user.", 5) == 0)
             && fstatat(AT_FDCWD, path, &st, follow ? 0 : AT_SYMLINK_NOFOLLOW) == 0) {
    error = ENOTSUP;
  }
  errno = error;
  return -1;
}

ssize_t getxattr(const char *path, const char *name, void *value, size_t size) {
  return mended(syscall(SYS_getxattr, path, name, value, size), path, name, 1);
}

ssize_t lgetxattr(const char *path, const char *name, void *value, size_t size) {
  return mended(syscall(SYS_lgetxattr, path, name, value, size), path, name, 0);
}

ssize_t listxattr(const char *path, char *list, size_t size) {
  return mended(syscall(SYS_listxattr, path, list, size), path, NULL, 1);
}

ssize_t llistxattr(const char *path, char *list, size_t size) {
  return mended(syscall(SYS_llistxattr, path, list, size), path, NULL, 0);
}
