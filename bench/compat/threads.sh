# One process with 1,000 threads (python), as a build daemon or test runner has.
timeout 60 "$PY" - >"$W/out" 2>&1 <<'PY'
import threading, time
stop = threading.Event()
t0 = time.time()
threads = [threading.Thread(target=stop.wait) for _ in range(1000)]
for t in threads: t.start()
took = time.time() - t0
with open("/proc/self/status") as f:
    count = next(line.split()[1] for line in f if line.startswith("Threads:"))
stop.set()
for t in threads: t.join()
print("threads", count, "ms %.0f" % (took * 1000))
PY
rc=$?
line=$(grep -m1 '^threads' "$W/out")
count=$(echo "$line" | awk '{print $2}'); ms=$(echo "$line" | awk '{print $4}')
if [ "$rc" -eq 0 ] && [ "${count:-0}" -ge 1001 ]; then
  result works "started in $ms ms" "1,000 threads started in $ms ms (/proc says $count)"
else
  result fails "" "exit $rc: $(errline "$W/out")"
fi
