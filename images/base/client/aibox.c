/*
 * /opt/aibox/bin/aibox inside the sandbox. `aibox install …` and `aibox mcp …` (not
 * `mcp run`) go to the resident aibox, the command server (src/cli/server.ts; protocol in src/cli/server-protocol.ts), so it
 * costs no Node start; everything else, and every case the server cannot take, runs
 * `node aibox.mjs` as before. The first call starts the server, detached, and runs
 * its own command with Node meanwhile. AIBOX_NO_SERVER=1 bypasses the server.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

/* The image's paths; the unit test (test/unit/cli-server.test.ts) compiles its own. */
#ifndef NODE
#define NODE "/opt/aibox/node/bin/node"
#endif
#ifndef BUNDLE
#define BUNDLE "/opt/aibox/lib/aibox.mjs"
#endif
#ifndef SOCKET_ROOT
#define SOCKET_ROOT "/tmp"
#endif

extern char **environ;

static void run_node(int argc, char **argv) {
  char **args = calloc((size_t)argc + 2, sizeof *args);
  if (!args) exit(1);
  args[0] = NODE;
  args[1] = BUNDLE;
  for (int i = 1; i < argc; i++) args[i + 1] = argv[i];
  execv(NODE, args);
  fprintf(stderr, "aibox: cannot run %s: %s\n", NODE, strerror(errno));
  exit(127);
}

/* The first cut of servedByServer in src/cli/server-protocol.ts; the server declines the rest (help, mcp import). */
static int served(int argc, char **argv) {
  const char *words[2] = {0, 0};
  int count = 0;
  for (int i = 1; i < argc && count < 2; i++) {
    if (strcmp(argv[i], "--name") == 0) i++;
    else if (argv[i][0] != '-') words[count++] = argv[i];
  }
  if (count > 0 && strcmp(words[0], "install") == 0) return 1;
  return count > 0 && strcmp(words[0], "mcp") == 0 && !(count > 1 && strcmp(words[1], "run") == 0);
}

/* Detached (own session, stdio on /dev/null, no inherited descriptors), so no ssh session waits for it. */
static void start_server(void) {
  pid_t pid = fork();
  if (pid == 0) {
    if (fork() != 0) _exit(0);
    setsid();
    int null = open("/dev/null", O_RDWR);
    if (null < 0 || chdir("/") != 0) _exit(1);
    dup2(null, 0);
    dup2(null, 1);
    dup2(null, 2);
    for (int fd = 3; fd < 1024; fd++) close(fd);
    execl(NODE, NODE, BUNDLE, "cli-server", (char *)0);
    _exit(127);
  }
  if (pid > 0) waitpid(pid, 0, 0);
}

static int write_all(int fd, const void *data, size_t size) {
  const char *at = data;
  while (size > 0) {
    ssize_t done = write(fd, at, size);
    if (done < 0 && errno == EINTR) continue;
    if (done <= 0) return -1;
    at += done;
    size -= (size_t)done;
  }
  return 0;
}

static int read_all(int fd, void *data, size_t size) {
  char *at = data;
  while (size > 0) {
    ssize_t done = read(fd, at, size);
    if (done < 0 && errno == EINTR) continue;
    if (done <= 0) return -1;
    at += done;
    size -= (size_t)done;
  }
  return 0;
}

struct buffer {
  char *data;
  size_t size, capacity;
};

static void add(struct buffer *b, const char *text) {
  size_t length = strlen(text) + 1;
  if (b->size + length > b->capacity) {
    b->capacity = (b->size + length) * 2;
    b->data = realloc(b->data, b->capacity);
    if (!b->data) exit(1);
  }
  memcpy(b->data + b->size, text, length);
  b->size += length;
}

static int send_frame(int sock, char type, const void *data, uint32_t size) {
  unsigned char head[5] = {(unsigned char)type, size >> 24, size >> 16, size >> 8, size};
  return write_all(sock, head, 5) || write_all(sock, data, size);
}

static int send_stdin(int sock) {
  static char chunk[65536];
  for (;;) {
    ssize_t got = read(0, chunk, sizeof chunk);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return send_frame(sock, 'd', chunk, 0);
    if (send_frame(sock, 'd', chunk, (uint32_t)got)) return -1;
  }
}

int main(int argc, char **argv) {
  const char *bypass = getenv("AIBOX_NO_SERVER");
  if ((bypass && *bypass && strcmp(bypass, "0") != 0) || !served(argc, argv)) run_node(argc, argv);

  struct sockaddr_un address = {.sun_family = AF_UNIX};
  char dir[sizeof address.sun_path - 16], cwd[4096];
  snprintf(dir, sizeof dir, SOCKET_ROOT "/aibox-cli-%u", (unsigned)getuid());
  snprintf(address.sun_path, sizeof address.sun_path, "%s/cli.sock", dir);
  struct stat folder;
  if (lstat(dir, &folder) != 0) {
    start_server();
    run_node(argc, argv);
  }
  /* Only a folder of this user's, for nobody else: the request carries the environment. */
  if (!S_ISDIR(folder.st_mode) || folder.st_uid != getuid() || (folder.st_mode & 077) || !getcwd(cwd, sizeof cwd)) run_node(argc, argv);
  int sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (sock < 0) run_node(argc, argv);
  if (connect(sock, (struct sockaddr *)&address, sizeof address) != 0) {
    start_server();
    run_node(argc, argv);
  }

  struct winsize size = {0};
  char columns[16], count[16];
  snprintf(columns, sizeof columns, "%u", ioctl(2, TIOCGWINSZ, &size) == 0 ? size.ws_col : 0);
  snprintf(count, sizeof count, "%d", argc - 1);
  struct buffer request = {0};
  add(&request, "aibox-cli/1");
  add(&request, cwd);
  add(&request, isatty(1) ? "1" : "0");
  add(&request, isatty(2) ? "1" : "0");
  add(&request, columns);
  add(&request, count);
  for (int i = 1; i < argc; i++) add(&request, argv[i]);
  for (char **variable = environ; *variable; variable++) add(&request, *variable);
  unsigned char length[4] = {request.size >> 24, request.size >> 16, request.size >> 8, request.size};
  if (write_all(sock, length, 4) || write_all(sock, request.data, request.size)) run_node(argc, argv);

  static char chunk[65536];
  for (;;) {
    unsigned char head[5];
    if (read_all(sock, head, 5)) break;
    uint32_t left = (uint32_t)head[1] << 24 | (uint32_t)head[2] << 16 | (uint32_t)head[3] << 8 | head[4];
    if (head[0] == 'f') {
      close(sock);
      run_node(argc, argv);
    }
    if (head[0] == 'i') {
      if (send_stdin(sock)) break;
      continue;
    }
    if (head[0] == 'x') {
      unsigned char code[4];
      if (left != 4 || read_all(sock, code, 4)) break;
      return (int)((uint32_t)code[0] << 24 | (uint32_t)code[1] << 16 | (uint32_t)code[2] << 8 | code[3]);
    }
    int fd = head[0] == 'o' ? 1 : 2;
    while (left > 0) {
      uint32_t part = left < sizeof chunk ? left : sizeof chunk;
      if (read_all(sock, chunk, part)) goto lost;
      write_all(fd, chunk, part);
      left -= part;
    }
  }
lost:
  fprintf(stderr, "aibox: the aibox command server ended without an answer; run the command again (AIBOX_NO_SERVER=1 runs it without the server)\n");
  return 1;
}
