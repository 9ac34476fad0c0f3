started=$(now_ms)
"$NODE" --inspect=127.0.0.1:9229 -e 'globalThis.answer = 42; setInterval(() => {}, 60000)' >"$W/inspectee" 2>&1 &
# A Chrome DevTools Protocol client: the target list over HTTP, then Runtime.evaluate over its WebSocket.
timeout 60 "$NODE" --experimental-websocket -e "
const deadline = Date.now() + 30000;
(async () => {
  let list;
  for (;;) {
    try { list = await (await fetch('http://127.0.0.1:9229/json/list')).json(); break; }
    catch (e) { if (Date.now() > deadline) throw e; await new Promise((r) => setTimeout(r, 50)); }
  }
  const ws = new WebSocket(list[0].webSocketDebuggerUrl);
  ws.onopen = () => ws.send(JSON.stringify({ id: 1, method: 'Runtime.evaluate', params: { expression: 'answer * 2' } }));
  ws.onmessage = (m) => { const r = JSON.parse(m.data); if (r.id === 1) { console.log('value', r.result.result.value); process.exit(0); } };
  ws.onerror = (e) => { console.error('websocket error', e.message); process.exit(1); };
})().catch((e) => { console.error('error', e.message); process.exit(1); });
" >"$W/out" 2>&1
rc=$?
ms=$(( $(now_ms) - started ))
if [ "$rc" -eq 0 ] && grep -q '^value 84' "$W/out"; then
  result works "answered $ms ms after start" "Runtime.evaluate over the inspector's WebSocket ($ms ms from start)"
else
  result fails "" "exit $rc: $(errline "$W/out") $(errline "$W/inspectee")"
fi
