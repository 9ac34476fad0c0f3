/*
 * The glibc 2.38 functions that Debian trixie's OpenJDK 21 calls, for the sandbox's glibc
 * 2.36 (bookworm). Built and linked into the JDK by the recipe (Containerfile; README.md
 * says why), after elf-version-rename made the JDK's GLIBC_2.38 needs GLIBC_2.2.5 ones.
 *
 * glibc 2.38 added C23 versions of the strto* and scanf families: they also accept "0b"
 * binary prefixes and %b. The JDK calls them only because it was compiled against 2.38's
 * headers, never for binary input: each one here is the function it replaced. They carry no
 * symbol version, so the dynamic linker takes them for the version the JDK asks for.
 * (The JDK's other 2.38 need, fmod, binds to libm's GLIBC_2.2.5 fmod after the rename.)
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

long __isoc23_strtol(const char *s, char **end, int base) { return strtol(s, end, base); }
unsigned long __isoc23_strtoul(const char *s, char **end, int base) { return strtoul(s, end, base); }
long long __isoc23_strtoll(const char *s, char **end, int base) { return strtoll(s, end, base); }
unsigned long long __isoc23_strtoull(const char *s, char **end, int base) { return strtoull(s, end, base); }

int __isoc23_vsscanf(const char *s, const char *format, va_list args) { return vsscanf(s, format, args); }

int __isoc23_sscanf(const char *s, const char *format, ...) {
  va_list args;
  va_start(args, format);
  int n = vsscanf(s, format, args);
  va_end(args);
  return n;
}

int __isoc23_fscanf(FILE *stream, const char *format, ...) {
  va_list args;
  va_start(args, format);
  int n = vfscanf(stream, format, args);
  va_end(args);
  return n;
}
