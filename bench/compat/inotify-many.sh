# A recursive watcher of a tree of INOTIFY_SIDE x INOTIFY_SIDE folders (10,000 by default) (webpack/Vite, Gradle's continuous build):
# inotifywait sets a watch on each, then one edit in the last folder must be seen.
side=${INOTIFY_SIDE:-100}
timeout 150 "$PY" - "$W" "$side" >"$W/out" 2>&1 <<'PY'
import os, subprocess, sys, time
root, side = os.path.join(sys.argv[1], "tree"), int(sys.argv[2])
t0 = time.time()
for a in range(side):
    for b in range(side):
        os.makedirs(os.path.join(root, str(a), str(b)))
made = time.time() - t0
t0 = time.time()
watcher = subprocess.Popen(["inotifywait", "-r", "-m", "-e", "create,close_write,moved_to", "--format", "%w%f %e", root],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1)
for line in watcher.stderr:
    if "Watches established" in line: break
    if "Setting up watches" not in line:
        print("inotifywait:", line.strip()); raise SystemExit(1)
else:
    raise SystemExit("inotifywait ended before its watches were set")
setup = time.time() - t0
target = os.path.join(root, str(side - 1), str(side - 1), "edited.txt")
t0 = time.time()
with open(target, "w") as f: f.write("x")
for line in watcher.stdout:
    if line.startswith(target):
        print("seen %.1f ms, setup %.2f s, folders made in %.1f s" % ((time.time() - t0) * 1000, setup, made)); break
watcher.kill()
PY
rc=$?
seen=$(grep -m1 '^seen' "$W/out")
if [ "$rc" -eq 0 ] && [ -n "$seen" ]; then
  ms=$(echo "$seen" | awk '{print $2}'); setup=$(echo "$seen" | awk '{print $5}')
  result works "$ms ms event, $setup s set-up" "$((side * side)) watches set in $setup s; the edit seen after $ms ms"
else
  result fails "" "exit $rc: $(errline "$W/out")"
fi
rm -rf "$W/tree"
