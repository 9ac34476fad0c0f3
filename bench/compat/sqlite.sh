# SQLite in WAL mode on the volume: 4 writer processes at once, 300 transactions each.
timeout 120 "$PY" - "$W/app.db" >"$W/out" 2>&1 <<'PY'
import multiprocessing, sqlite3, sys, time
db = sys.argv[1]
def connect():
    c = sqlite3.connect(db, timeout=30, isolation_level=None); c.execute("PRAGMA busy_timeout=30000"); return c
def writer(n):
    c = connect()
    for i in range(300):
        c.execute("BEGIN IMMEDIATE"); c.execute("INSERT INTO t(w, i) VALUES (?, ?)", (n, i)); c.execute("COMMIT")
c = connect()
mode = c.execute("PRAGMA journal_mode=WAL").fetchone()[0]
c.execute("CREATE TABLE t(w INTEGER, i INTEGER)")
t0 = time.time()
ps = [multiprocessing.Process(target=writer, args=(n,)) for n in range(4)]
for p in ps: p.start()
for p in ps: p.join()
took = time.time() - t0
if any(p.exitcode for p in ps): raise SystemExit("a writer failed")
rows = c.execute("SELECT count(*) FROM t").fetchone()[0]
check = c.execute("PRAGMA integrity_check").fetchone()[0]
print("rows", rows, "mode", mode, "check", check, "rate %.0f" % (rows / took))
PY
rc=$?
line=$(grep -m1 '^rows' "$W/out")
rate=$(echo "$line" | awk '{print $8}')
if [ "$rc" -eq 0 ] && echo "$line" | grep -q '^rows 1200 mode wal check ok'; then
  result works "$rate commits/s" "1,200 commits from 4 processes in WAL mode, integrity_check ok"
elif [ "$rc" -eq 0 ]; then
  result partial "" "$line"
else
  result fails "" "exit $rc: $(errline "$W/out")"
fi
