yama=$(cat /proc/sys/kernel/yama/ptrace_scope 2>/dev/null || echo none)
sleep 300 &
pid=$!
timeout 60 gdb -batch -p "$pid" -ex bt >"$W/out" 2>&1
if grep -q '^#0 ' "$W/out"; then
  result works "" "bt of a running sleep; Yama ptrace_scope: $yama"
else
  result fails "" "$(grep -m1 -E '^ptrace:|Could not attach' "$W/out" || errline "$W/out") (Yama ptrace_scope: $yama)"
fi
