timeout 60 gdb -batch -ex run -ex bt --args sh -c 'kill -SEGV $$' >"$W/out" 2>&1
if grep -q 'SIGSEGV' "$W/out" && grep -q '^#0 ' "$W/out"; then
  result works "" "caught the program's SIGSEGV and printed its stack"
else
  result fails "" "$(errline "$W/out")"
fi
