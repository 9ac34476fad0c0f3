sleep 60 &
pid=$!
timeout 3 strace -p "$pid" >"$W/out" 2>&1
if grep -q "Process $pid attached" "$W/out"; then
  result works "" "attached to a running process (pid $pid)"
else
  result fails "" "$(errline "$W/out")"
fi
