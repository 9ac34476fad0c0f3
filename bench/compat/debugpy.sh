started=$(now_ms)
"$PY" -m debugpy --listen 127.0.0.1:5678 -c 'import time; time.sleep(600)' >"$W/debuggee" 2>&1 &
timeout 60 "$PY" - >"$W/out" 2>&1 <<'PY'
import json, socket, time
deadline = time.time() + 40
while True:
    try:
        s = socket.create_connection(("127.0.0.1", 5678)); break
    except OSError:
        if time.time() > deadline: raise
        time.sleep(0.05)
body = json.dumps({"seq": 1, "type": "request", "command": "initialize", "arguments": {"clientID": "compat", "adapterID": "debugpy"}}).encode()
s.sendall(b"Content-Length: %d\r\n\r\n" % len(body) + body)
buf = b""
while True:
    chunk = s.recv(65536)
    if not chunk: raise SystemExit("closed before a response")
    buf += chunk
    while b"\r\n\r\n" in buf:
        head, rest = buf.split(b"\r\n\r\n", 1)
        length = int(head.split(b":")[1])
        if len(rest) < length: break
        message, buf = json.loads(rest[:length]), rest[length:]
        if message.get("type") == "response":
            print("initialize", message["success"], message["body"].get("supportsConfigurationDoneRequest"))
            raise SystemExit(0)
PY
rc=$?
ms=$(( $(now_ms) - started ))
if [ "$rc" -eq 0 ] && grep -q '^initialize True True' "$W/out"; then
  result works "answered $ms ms after start" "DAP initialize answered ($ms ms from the debuggee's start)"
else
  result fails "" "exit $rc: $(errline "$W/out") $(errline "$W/debuggee")"
fi
