# A repository of $GIT_FILES files in 500 folders on the volume: written, added, committed,
# then `git status` with 10 files changed.
files=${GIT_FILES:-50000}
timeout 280 "$PY" - "$W/repo" "$files" >"$W/out" 2>&1 <<'PY'
import os, subprocess, sys, time
repo, files = sys.argv[1], int(sys.argv[2])
def git(*args):
    r = subprocess.run(["git", "-c", "user.name=compat", "-c", "user.email=compat@example.com", *args], cwd=repo, capture_output=True, text=True)
    if r.returncode: raise SystemExit("git %s: %s" % (args[0], (r.stderr.strip().splitlines() or ["exit %d" % r.returncode])[-1]))
    return r.stdout
t0 = time.time()
for n in range(files):
    d = os.path.join(repo, "d%03d" % (n % 500))
    if n < 500: os.makedirs(d)
    with open(os.path.join(d, "f%05d.txt" % n), "w") as f: f.write("file %d\n" % n)
made = time.time() - t0
git("init", "-q")
t0 = time.time(); git("add", "-A"); git("commit", "-q", "-m", "many files"); commit = time.time() - t0
for n in range(0, 5000, 500):
    with open(os.path.join(repo, "d%03d" % (n % 500), "f%05d.txt" % n), "a") as f: f.write("changed\n")
t0 = time.time(); changed = len(git("status", "--porcelain").splitlines()); status = time.time() - t0
print("made %.1f commit %.1f status %.2f changed %d" % (made, commit, status, changed))
PY
rc=$?
line=$(grep -m1 '^made' "$W/out")
read -r _ made _ commit _ status _ changed <<<"$line"
if [ "$rc" -eq 0 ] && [ "$changed" = 10 ]; then
  result works "status $status s, add+commit $commit s" "$files files written in $made s; git add -A + commit $commit s; git status $status s (10 changed)"
elif [ "$rc" -eq 0 ]; then
  result partial "" "git status listed $changed files, not the 10 changed"
else
  result fails "" "exit $rc: $(errline "$W/out")"
fi
