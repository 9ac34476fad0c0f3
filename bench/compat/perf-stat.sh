timeout 30 perf stat -e task-clock true >"$W/out" 2>&1
rc=$?
if [ "$rc" -eq 0 ] && grep -q 'task-clock' "$W/out"; then
  result works "" "$(grep -m1 task-clock "$W/out" | sed 's/  */ /g')"
else
  result fails "" "exit $rc: $(grep -m1 -E 'perf_event_open|No permission|not supported' "$W/out" || errline "$W/out")"
fi
