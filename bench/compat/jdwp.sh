# A JVM with 200 extra threads and the JDWP agent; a client inside does the handshake and
# asks for all threads (VirtualMachine.IDSizes, then VirtualMachine.AllThreads).
started=$(now_ms)
java -agentlib:jdwp=transport=dt_socket,server=y,suspend=n,address=127.0.0.1:5005 -cp "$T/java" Threads 200 >"$W/jvm" 2>&1 &
wait_for "$W/jvm" '^ready' 60 || { result fails "" "the JVM: $(errline "$W/jvm")"; exit; }
timeout 60 "$NODE" -e "
const net = require('net');
const socket = net.connect(5005, '127.0.0.1');
let buf = Buffer.alloc(0), step = 0, idSize = 8;
const send = (id, set, cmd) => { const p = Buffer.alloc(11); p.writeUInt32BE(11, 0); p.writeUInt32BE(id, 4); p[8] = 0; p[9] = set; p[10] = cmd; socket.write(p); };
socket.on('connect', () => socket.write('JDWP-Handshake'));
socket.on('data', (chunk) => {
  buf = Buffer.concat([buf, chunk]);
  if (step === 0 && buf.length >= 14) { if (buf.subarray(0, 14).toString() !== 'JDWP-Handshake') throw new Error('bad handshake'); buf = buf.subarray(14); step = 1; send(1, 1, 7); }
  while (buf.length >= 11 && buf.length >= buf.readUInt32BE(0)) {
    const len = buf.readUInt32BE(0), id = buf.readUInt32BE(4), error = buf.readUInt16BE(9), data = buf.subarray(11, len);
    buf = buf.subarray(len);
    if (error) { console.error('error code', error); process.exit(1); }
    if (id === 1) { idSize = data.readUInt32BE(16); send(2, 1, 4); }
    if (id === 2) { console.log('threads', data.readUInt32BE(0), 'idsize', idSize); process.exit(0); }
  }
});
socket.on('error', (e) => { console.error('error', e.message); process.exit(1); });
" >"$W/out" 2>&1
rc=$?
ms=$(( $(now_ms) - started ))
threads=$(sed -n 's/^threads \([0-9]*\).*/\1/p' "$W/out")
if [ "$rc" -eq 0 ] && [ "${threads:-0}" -ge 200 ]; then
  result works "$threads threads listed $ms ms after start" "handshake, then AllThreads listed $threads threads ($ms ms from the JVM's start)"
elif [ "$rc" -eq 0 ]; then
  result partial "$threads threads" "handshake works, but AllThreads listed only ${threads:-no} threads"
else
  result fails "" "exit $rc: $(errline "$W/out")"
fi
