/*
 * elf-version-rename FROM TO FILE...: in each FILE, every need of symbol version FROM (e.g.
 * GLIBC_2.38) becomes a need of TO (GLIBC_2.2.5), a version the FILE already needs, so it
 * names the same library. The dynamic linker then loads FILE on a C library without FROM,
 * and each symbol that was FROM binds to its TO definition (fmod) or, where the library has
 * none, to an unversioned one (glibc238-compat.c's __isoc23_*). Rewrites the two fields of
 * each such entry (name offset and hash) in place; prints what it changed.
 */
#include <elf.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

typedef void visit_fn(Elf64_Vernaux *entry, const char *name, const char *file, void *state);

/* Calls visit for every version need of every library named in the verneed sections. */
static void each_need(unsigned char *elf, visit_fn *visit, void *state) {
  Elf64_Ehdr *header = (Elf64_Ehdr *)elf;
  Elf64_Shdr *sections = (Elf64_Shdr *)(elf + header->e_shoff);
  for (int i = 0; i < header->e_shnum; i++) {
    if (sections[i].sh_type != SHT_GNU_verneed) continue;
    const char *names = (const char *)elf + sections[sections[i].sh_link].sh_offset;
    unsigned char *need = elf + sections[i].sh_offset;
    for (;;) {
      Elf64_Verneed *file = (Elf64_Verneed *)need;
      unsigned char *aux = need + file->vn_aux;
      for (int j = 0; j < file->vn_cnt; j++, aux += ((Elf64_Vernaux *)aux)->vna_next)
        visit((Elf64_Vernaux *)aux, names + ((Elf64_Vernaux *)aux)->vna_name, names + file->vn_file, state);
      if (file->vn_next == 0) break;
      need += file->vn_next;
    }
  }
}

struct rename { const char *from, *to, *path; Elf64_Vernaux *target; int changed; };

static void find_target(Elf64_Vernaux *entry, const char *name, const char *file, void *state) {
  struct rename *r = state;
  if (strcmp(name, r->to) == 0) r->target = entry;
}

static void rename_need(Elf64_Vernaux *entry, const char *name, const char *file, void *state) {
  struct rename *r = state;
  if (strcmp(name, r->from) != 0) return;
  entry->vna_name = r->target->vna_name;
  entry->vna_hash = r->target->vna_hash;
  printf("%s: %s of %s is now %s\n", r->path, r->from, file, r->to);
  r->changed++;
}

static int rename_version(const char *from, const char *to, const char *path) {
  int fd = open(path, O_RDWR);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) != 0) return perror(path), 1;
  unsigned char *elf = mmap(NULL, st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  close(fd);
  if (elf == MAP_FAILED || st.st_size < (off_t)sizeof(Elf64_Ehdr) || memcmp(elf, ELFMAG, SELFMAG) != 0 || elf[EI_CLASS] != ELFCLASS64)
    return fprintf(stderr, "%s: not a 64-bit ELF file\n", path), 1;
  struct rename r = { from, to, path, NULL, 0 };
  each_need(elf, find_target, &r);
  if (r.target == NULL) return fprintf(stderr, "%s: needs no %s to rename %s to\n", path, to, from), 1;
  each_need(elf, rename_need, &r);
  if (munmap(elf, st.st_size) != 0) return perror(path), 1;
  return r.changed == 0 ? (fprintf(stderr, "%s: needs no %s\n", path, from), 1) : 0;
}

int main(int argc, char **argv) {
  if (argc < 4) return fprintf(stderr, "usage: elf-version-rename FROM TO FILE...\n"), 2;
  int failed = 0;
  for (int i = 3; i < argc; i++) failed |= rename_version(argv[1], argv[2], argv[i]);
  return failed;
}
