# Sourced before every check, inside the sandbox (bash, as dev). The tools the image lacks
# were copied to $T by bench/compat.ts; each check works in its own folder of the volume.
T=/tmp/compat-tools
W=/workspace/compat-$CHECK
NODE=/opt/aibox/node/bin/node
PY=$T/usr/bin/python3.11
export PATH=$T/usr/bin:$T/usr/sbin:$T/jre/bin:$PATH
export LD_LIBRARY_PATH=$T/usr/lib/x86_64-linux-gnu:$T/lib/x86_64-linux-gnu
export PYTHONHOME=$T/usr PYTHONPATH=$T/usr/lib/python3/dist-packages
rm -rf "$W" && mkdir -p "$W" && cd "$W" || exit 1
# Background processes of a check end with it (their output goes to files, so ssh returns).
trap 'kill $(jobs -p) 2>/dev/null' EXIT

# result OUTCOME METRIC DETAIL: the lines bench/compat.ts reads (the last ones win).
result() {
  echo "compat-outcome=$1"
  echo "compat-metric=$2"
  echo "compat-detail=$(printf '%s' "$3" | tr '\n' ' ' | cut -c1-220)"
}

# The line of a tool's output that says what went wrong (else its last line).
errline() {
  local line
  line=$(grep -i -m1 -E 'not permitted|denied|no such|no permission|not supported|not implemented|too many|error|fail|cannot|unable|refused|killed' "$1" 2>/dev/null)
  [ -n "$line" ] || line=$(grep -v '^[[:space:]]*$' "$1" 2>/dev/null | tail -1)
  printf '%s' "${line:-no output}" | sed 's/^[[:space:]]*//'
}

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

# wait_for FILE PATTERN SECONDS: until the file has a line matching the pattern.
wait_for() {
  local deadline=$(( $(date +%s) + $3 ))
  until grep -q -E "$2" "$1" 2>/dev/null; do
    [ "$(date +%s)" -lt "$deadline" ] || return 1
    sleep 0.05
  done
}
