# The process allows any tracer (prctl PR_SET_PTRACER, PR_SET_PTRACER_ANY); gdb is not its ancestor.
# Without the Yama LSM the prctl fails with EINVAL and is not needed: gdb attaches anyway.
"$PY" -c "
import ctypes, os, time
libc = ctypes.CDLL(None, use_errno=True)
rc = libc.prctl(0x59616d61, ctypes.c_ulong(-1), 0, 0, 0)
print('ready', 'prctl ok' if rc == 0 else 'prctl ' + os.strerror(ctypes.get_errno()), flush=True)
time.sleep(120)" >"$W/target" 2>&1 &
pid=$!
wait_for "$W/target" '^ready' 20 || { result fails "" "$(errline "$W/target")"; exit; }
timeout 60 gdb -batch -p "$pid" -ex bt >"$W/out" 2>&1
if grep -q '^#0 ' "$W/out"; then
  result works "" "bt of a running python; $(sed -n 's/^ready //p' "$W/target") (Yama ptrace_scope: $(cat /proc/sys/kernel/yama/ptrace_scope 2>/dev/null || echo none))"
else
  result fails "" "$(grep -m1 -E '^ptrace:|Could not attach' "$W/out" || errline "$W/out")"
fi
