# Editors that save atomically: JetBrains' safe write and VS Code write a temporary file and
# rename it over the original; vim (backupcopy=auto) renames the original away and writes a new
# file. A watcher of the folder must see the file change each time.
mkdir -p "$W/src" && echo 'v0' >"$W/src/app.js"
timeout 60 "$PY" - "$W/src" >"$W/out" 2>&1 <<'PY'
import os, subprocess, sys, time
src = sys.argv[1]
watcher = subprocess.Popen(["inotifywait", "-m", "-e", "create,close_write,moved_to,moved_from,delete", "--format", "%f %e", src],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1)
for line in watcher.stderr:
    if "Watches established" in line: break
app = os.path.join(src, "app.js")
def jetbrains(i):
    with open(app + "___jb_tmp___", "w") as f: f.write("v%d\n" % i); f.flush(); os.fsync(f.fileno())
    os.rename(app + "___jb_tmp___", app)
def vim(i):
    os.rename(app, app + "~")
    with open(app, "w") as f: f.write("v%d\n" % i)
    os.unlink(app + "~")
latencies = []
for i, save in enumerate([jetbrains, vim, jetbrains, vim], 1):
    t0 = time.time()
    save(i)
    for line in watcher.stdout:
        name, events = line.split(" ", 1)
        if name == "app.js" and ("MOVED_TO" in events or "CLOSE_WRITE" in events):
            latencies.append((time.time() - t0) * 1000); break
    with open(app) as f:
        if f.read() != "v%d\n" % i: raise SystemExit("read back the wrong content after save %d" % i)
watcher.kill()
print("seen", len(latencies), "max %.1f" % max(latencies))
PY
rc=$?
seen=$(grep -m1 '^seen' "$W/out")
if [ "$rc" -eq 0 ] && [ "$(echo "$seen" | awk '{print $2}')" = 4 ]; then
  ms=$(echo "$seen" | awk '{print $4}')
  result works "≤ $ms ms" "4 of 4 saves seen (2 rename-over, 2 vim-style), the slowest after $ms ms"
else
  result fails "" "exit $rc: $(errline "$W/out")"
fi
