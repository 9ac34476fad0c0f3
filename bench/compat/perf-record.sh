timeout 60 perf record -F 999 -o "$W/perf.data" -- "$PY" -c 'sum(i * i for i in range(3_000_000))' >"$W/out" 2>&1
rc=$?
samples=$(timeout 60 perf report -i "$W/perf.data" --stdio 2>/dev/null | sed -n 's/^# Samples: *\([0-9.]*[KM]*\).*/\1/p' | head -1)
if [ "$rc" -eq 0 ] && [ -n "$samples" ] && [ "$samples" != 0 ]; then
  result works "$samples samples" "$samples samples of a python loop, perf report reads them"
else
  result fails "" "exit $rc: $(grep -m1 -E 'perf_event_open|No permission|not supported' "$W/out" || errline "$W/out")"
fi
