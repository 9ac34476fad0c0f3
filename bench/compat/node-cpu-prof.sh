# A sampling profiler that needs no perf_event_open: V8's own.
timeout 60 "$NODE" --cpu-prof --cpu-prof-dir="$W/prof" -e 'const end = Date.now() + 500; let x = 0; while (Date.now() < end) x += Math.sqrt(x + 1);' >"$W/out" 2>&1
rc=$?
samples=$("$NODE" -e "const fs = require('fs'); const d = '$W/prof'; const f = fs.readdirSync(d)[0]; console.log(JSON.parse(fs.readFileSync(d + '/' + f, 'utf8')).samples.length)" 2>>"$W/out")
if [ "$rc" -eq 0 ] && [ "${samples:-0}" -gt 0 ]; then
  result works "$samples samples" "$samples samples in 0.5 s of a busy loop"
else
  result fails "" "exit $rc: $(errline "$W/out")"
fi
