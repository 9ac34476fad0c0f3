# A FILE_MIB file (2 GiB by default) written to the volume (fsync'd), then read back; sha256 of both passes compared.
mib=${FILE_MIB:-2048}
timeout 280 "$PY" - "$W/big.bin" "$mib" >"$W/out" 2>&1 <<'PY'
import hashlib, os, sys, time
path, mib, block = sys.argv[1], int(sys.argv[2]), bytearray(os.urandom(1 << 20))
h = hashlib.sha256(); t0 = time.time()
with open(path, "wb") as f:
    for i in range(mib):
        block[:8] = i.to_bytes(8, "little"); f.write(block); h.update(block)
    f.flush(); os.fsync(f.fileno())
write = mib / (time.time() - t0)
r = hashlib.sha256(); t0 = time.time()
with open(path, "rb") as f:
    while chunk := f.read(8 << 20): r.update(chunk)
read = mib / (time.time() - t0)
print("size", os.path.getsize(path), "same", h.hexdigest() == r.hexdigest(), "write %.0f read %.0f" % (write, read))
PY
rc=$?
line=$(grep -m1 '^size' "$W/out")
w=$(echo "$line" | awk '{print $6}'); r=$(echo "$line" | awk '{print $8}')
if [ "$rc" -eq 0 ] && echo "$line" | grep -q "^size $((mib * 1048576)) same True"; then
  result works "write $w MiB/s, read $r MiB/s" "$mib MiB written with fsync at $w MiB/s, read back at $r MiB/s (page cache), sha256 equal"
elif [ "$rc" -eq 0 ]; then
  result fails "" "the file read back differs: $line"
else
  result fails "" "exit $rc: $(errline "$W/out")"
fi
rm -f "$W/big.bin"
