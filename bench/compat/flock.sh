# Exclusive flock(1) between two processes on a file of the volume.
flock -x "$W/lock" -c 'echo held; sleep 2' >"$W/holder" 2>&1 &
wait_for "$W/holder" '^held' 20 || { result fails "" "$(errline "$W/holder")"; exit; }
flock -n -x "$W/lock" true 2>"$W/out"
nonblocking=$?
started=$(now_ms)
flock -x -w 20 "$W/lock" true 2>>"$W/out"
blocking=$?
waited=$(( $(now_ms) - started ))
if [ "$nonblocking" -eq 1 ] && [ "$blocking" -eq 0 ] && [ "$waited" -ge 500 ]; then
  result works "waited $waited ms" "flock -n refused while held; the second locker got it after $waited ms"
else
  result fails "" "flock -n exit $nonblocking, blocking exit $blocking after $waited ms: $(errline "$W/out")"
fi
