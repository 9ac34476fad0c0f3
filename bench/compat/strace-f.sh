strace -f -o "$W/trace" sh -c 'ls / >/dev/null; echo x | cat >/dev/null' >"$W/out" 2>&1
rc=$?
calls=$(wc -l <"$W/trace" 2>/dev/null || echo 0)
procs=$(awk '{print $1}' "$W/trace" 2>/dev/null | sort -u | wc -l)
if [ "$rc" -eq 0 ] && grep -q 'execve(' "$W/trace" && [ "$procs" -ge 3 ]; then
  result works "$calls syscalls" "$calls syscalls traced in $procs processes"
else
  result fails "" "exit $rc: $(errline "$W/out")"
fi
