#!/usr/bin/env bash
# Steward's benchmarks against the targets of the performance issue:
#   plan of a 10,000-service stack  < 1 s and < 200 MB peak RSS
#   `steward up` of the quickstart until every replica is ready  < 3 s
#   daemon RSS with the quickstart running  < 30 MB
# plus a peer baseline: parsing the same 10k-service YAML with PyYAML's libyaml loader.
#
#   bench/run.sh BUILD_DIR        # BUILD_DIR/bin/steward and steward-demo, ideally Release
#
# Environment: BENCH_RUNS (default 5; medians are reported), BENCH_SERVICES (default 10000).
# Prints progress to stderr and a Markdown table to stdout. Never part of ctest: timings depend
# on the machine. Everything it starts is stopped on exit (trap), and only that.
set -uo pipefail

[ $# -eq 1 ] || { echo "usage: $0 BUILD_DIR" >&2; exit 2; }
BUILD_DIR=$(cd "$1" && pwd) || exit 2
ROOT=$(cd "$(dirname "$0")/.." && pwd)
STEWARD=$BUILD_DIR/bin/steward
RUNS=${BENCH_RUNS:-5}
SERVICES=${BENCH_SERVICES:-10000}
QUICKSTART_PORTS=(18080 18081 18082 18083 18180 18181 18182 18183 18280 18281)
READY_TIMEOUT_S=30   # per `up` run
STOP_TIMEOUT_S=30    # SIGINT to exit, per `up` run
for bin in "$STEWARD" "$BUILD_DIR/bin/steward-demo" /usr/bin/time; do
  [ -x "$bin" ] || { echo "bench: $bin missing (build: ninja -C $BUILD_DIR steward steward-demo)" >&2; exit 2; }
done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/steward-bench.XXXXXX")
UP_PID=""
UP_DIR=""

log() { echo "bench: $*" >&2; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }

# Stops the `steward up` this script started: SIGINT (what Ctrl-C sends), then SIGKILL after
# STOP_TIMEOUT_S, then `steward down` for replicas a killed daemon left behind.
stop_up() {
  [ -n "$UP_PID" ] || return 0
  kill -INT "$UP_PID" 2>/dev/null
  local i
  for ((i = 0; i < STOP_TIMEOUT_S * 10; i++)); do
    kill -0 "$UP_PID" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$UP_PID" 2>/dev/null; then
    log "steward up (pid $UP_PID) ignored SIGINT for ${STOP_TIMEOUT_S}s; killing it"
    kill -KILL "$UP_PID" 2>/dev/null
    wait "$UP_PID" 2>/dev/null
    timeout 60 "$STEWARD" down -f "$UP_DIR/steward.yaml" >/dev/null 2>&1
  fi
  wait "$UP_PID" 2>/dev/null
  UP_PID=""
}
cleanup() {
  stop_up
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

median() { sort -g | awk '{v[NR] = $1} END {if (NR) print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2)}'; }
join() { paste -sd' ' -; }

# Runs a command under /usr/bin/time -v; appends "seconds kbytes" to $1. Exit codes other than
# those listed in $2 (comma separated) fail the benchmark.
timed() {
  local out=$1 ok_codes=$2
  shift 2
  local tv=$WORK/time.txt
  timeout 120 /usr/bin/time -v -o "$tv" "$@" >"$WORK/cmd.out" 2>"$WORK/cmd.err"
  local rc=$?
  if [[ ",$ok_codes," != *",$rc,"* ]]; then
    log "'$*' exited $rc:"
    tail -n 5 "$WORK/cmd.err" >&2
    return 1
  fi
  awk -F': ' '
    /Elapsed \(wall clock\)/ { n = split($2, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i] }
    /Maximum resident set size/ { kb = $2 }
    END { printf "%.3f %d\n", s, kb }' "$tv" >>"$out"
}

# Prints "median_seconds median_MB all_seconds" of a "seconds kbytes" file.
# The peak RSS column of a "seconds kbytes" file, in MB, one per run.
mb_runs() { cut -d' ' -f2 "$1" | awk '{printf "%.1f\n", $1 / 1024}' | join; }

summarise() {
  local f=$1
  echo "$(cut -d' ' -f1 "$f" | median) $(cut -d' ' -f2 "$f" | median | awk '{printf "%.1f", $1 / 1024}') $(cut -d' ' -f1 "$f" | join)"
}

ROWS=()
row() { ROWS+=("| $1 | $2 | $3 | $4 | $5 |"); }
verdict() { awk -v v="$1" -v t="$2" 'BEGIN {print (v < t ? "yes" : sprintf("**no** (%.1fx)", v / t))}'; }

# --- (a) validate and plan of an N-service stack ----------------------------------------------
bench_plan() {
  local proj=$WORK/plan
  mkdir -p "$proj"
  python3 "$ROOT/bench/gen_stack.py" "$SERVICES" >"$proj/steward.yaml" || return 1
  log "(a) $SERVICES-service stack: $(du -h "$proj/steward.yaml" | cut -f1), $RUNS runs each"
  local i
  for ((i = 0; i < RUNS; i++)); do
    timed "$WORK/validate.txt" 0 "$STEWARD" validate -f "$proj/steward.yaml" || return 1
    # plan exits 2 when there are changes: here every service is a create.
    timed "$WORK/plan.txt" 0,2 "$STEWARD" plan --json -f "$proj/steward.yaml" || return 1
  done
  grep -q '"create"' "$WORK/cmd.out" || { log "plan --json printed no creates"; return 1; }
  local s m all
  read -r s m all <<<"$(summarise "$WORK/validate.txt")"
  row "validate, $SERVICES services: wall" "—" "${s} s" "$all" "\`steward validate -f steward.yaml\`"
  row "validate, $SERVICES services: peak RSS" "—" "${m} MB" "$(mb_runs "$WORK/validate.txt")" ""
  VALIDATE_S=$s
  read -r s m all <<<"$(summarise "$WORK/plan.txt")"
  row "plan, $SERVICES services: wall" "< 1 s: $(verdict "$s" 1)" "${s} s" "$all" \
      "\`steward plan --json -f steward.yaml\` (empty state)"
  row "plan, $SERVICES services: peak RSS" "< 200 MB: $(verdict "$m" 200)" "${m} MB" \
      "$(mb_runs "$WORK/plan.txt")" ""
}

# --- (d) peer: the same YAML through libyaml (PyYAML's C loader) -------------------------------
bench_peer() {
  local py
  py=$(python3 -c 'import sys; print(sys.executable)' 2>/dev/null) || py=""
  if [ -z "$py" ] || ! "$py" -c 'import yaml; yaml.CSafeLoader' 2>/dev/null; then
    log "(d) python3 with PyYAML + libyaml not found: no peer baseline"
    row "peer: PyYAML CSafeLoader parse" "—" "skipped (no PyYAML/libyaml)" "" ""
    return 0
  fi
  log "(d) peer: PyYAML $("$py" -c 'import yaml; print(yaml.__version__)') CSafeLoader, $RUNS runs"
  local i
  for ((i = 0; i < RUNS; i++)); do
    timed "$WORK/peer.txt" 0 "$py" -c \
        'import sys, yaml; yaml.load(open(sys.argv[1]), Loader=yaml.CSafeLoader)' \
        "$WORK/plan/steward.yaml" || return 1
    timed "$WORK/pystart.txt" 0 "$py" -c 'import yaml' || return 1
  done
  local s m all
  read -r s m all <<<"$(summarise "$WORK/peer.txt")"
  local ratio
  ratio=$(awk -v a="${VALIDATE_S:-0}" -v b="$s" 'BEGIN {if (a > 0 && b > 0) printf " (steward validate: %.2fx of this)", a / b}')
  row "peer: PyYAML CSafeLoader parse of the same file: wall" "—" "${s} s${ratio}" "$all" \
      "\`python3 -c 'yaml.load(f, Loader=yaml.CSafeLoader)'\`"
  row "peer: same, peak RSS" "—" "${m} MB" "$(mb_runs "$WORK/peer.txt")" ""
  read -r s m all <<<"$(summarise "$WORK/pystart.txt")"
  row "peer: python3 startup + import yaml alone" "—" "${s} s, ${m} MB" "$all" \
      "\`python3 -c 'import yaml'\`"
}

# --- (b) `steward up` of the quickstart until every replica is ready; (c) RSS ------------------
port_in_use() {  # listening TCP sockets, IPv4 and IPv6, from /proc
  local hex
  hex=$(printf '%04X' "$1")
  awk -v p="$hex" '$4 == "0A" { split($2, a, ":"); if (a[2] == p) found = 1 } END { exit !found }' \
      /proc/net/tcp /proc/net/tcp6 2>/dev/null
}
wait_ports_free() {
  local i p busy
  for ((i = 0; i < 100; i++)); do
    busy=""
    for p in "${QUICKSTART_PORTS[@]}"; do port_in_use "$p" && busy="$busy $p"; done
    [ -z "$busy" ] && return 0
    sleep 0.1
  done
  log "ports in use:$busy (the quickstart needs ${QUICKSTART_PORTS[*]})"
  return 1
}
rss_kb() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status" 2>/dev/null; }

# One run: launch, poll status every 20 ms until all $1 replicas are ready; appends the ms to
# up.txt, then after 5 s appends daemon VmRSS/VmHWM and the replicas' total VmRSS to rss.txt.
up_once() {
  local want=$1 run=$2
  UP_DIR=$WORK/quickstart-$run
  cp -r "$ROOT/examples/quickstart" "$UP_DIR"
  rm -rf "$UP_DIR/.steward"
  local t0 t1 i st ready=0
  t0=$(now_ms)
  "$STEWARD" up -f "$UP_DIR/steward.yaml" --listen 127.0.0.1:0 >"$UP_DIR/up.out" 2>"$UP_DIR/up.err" &
  UP_PID=$!
  for ((i = 0; i < READY_TIMEOUT_S * 50; i++)); do
    if ! kill -0 "$UP_PID" 2>/dev/null; then
      log "steward up exited early:"
      tail -n 3 "$UP_DIR/up.err" >&2
      grep -m1 '^error:' "$UP_DIR/up.err" >>"$WORK/up-errors.txt"
      return 1
    fi
    st=$(timeout 5 "$STEWARD" status --json -f "$UP_DIR/steward.yaml" 2>/dev/null)
    ready=$(grep -c '"ready": true' <<<"$st")
    [ "$ready" -ge "$want" ] && break
    sleep 0.02
  done
  t1=$(now_ms)
  if [ "$ready" -lt "$want" ]; then
    log "only $ready/$want replicas ready after ${READY_TIMEOUT_S}s"
    echo "only $ready/$want replicas ready after ${READY_TIMEOUT_S}s" >>"$WORK/up-errors.txt"
    return 1
  fi
  echo "$(awk -v d=$((t1 - t0)) 'BEGIN {printf "%.3f", d / 1000}')" >>"$WORK/up.txt"
  local daemon_pid pids
  daemon_pid=$(python3 -c 'import json, sys; print(json.load(sys.stdin)["daemon"]["pid"])' <<<"$st")
  pids=$(python3 -c 'import json, sys; print(" ".join(str(r["pid"]) for r in json.load(sys.stdin)["replicas"]))' <<<"$st")
  sleep 5  # settle: health checks running, no start-up allocations in flight
  local replicas_kb=0 p
  for p in $pids; do replicas_kb=$((replicas_kb + $(rss_kb "$p" VmRSS || echo 0))); done
  echo "$(rss_kb "$daemon_pid" VmRSS) $(rss_kb "$daemon_pid" VmHWM) $replicas_kb $(wc -w <<<"$pids")" >>"$WORK/rss.txt"
  local t2
  t2=$(now_ms)
  stop_up
  echo "$(awk -v d=$(($(now_ms) - t2)) 'BEGIN {printf "%.3f", d / 1000}')" >>"$WORK/down.txt"
  wait_ports_free
}

bench_up() {
  if ! wait_ports_free; then
    row "up of the quickstart" "< 3 s" "skipped: ports busy" "" ""
    return 0
  fi
  local want
  want=$(awk '$1 == "replicas:" {n += $2} END {print n}' "$ROOT/examples/quickstart/steward.yaml")
  log "(b,c) steward up of examples/quickstart ($want replicas), $RUNS runs"
  # A failed launch is reported, cleaned up and retried, up to RUNS extra attempts.
  local attempt ok=0 failed_runs=0
  for ((attempt = 0; ok < RUNS && attempt < 2 * RUNS; attempt++)); do
    if up_once "$want" "$attempt"; then
      ok=$((ok + 1))
    else
      failed_runs=$((failed_runs + 1))
      stop_up
      timeout 60 "$STEWARD" down -f "$UP_DIR/steward.yaml" >/dev/null 2>&1
      wait_ports_free || return 1
    fi
  done
  if [ "$failed_runs" -gt 0 ]; then
    row "**failed launches of \`steward up\`**" "none" "$failed_runs of $attempt" \
        "$(sort "$WORK/up-errors.txt" | uniq -c | sed 's/^ *//' | paste -sd';' -)" ""
  fi
  [ "$ok" -gt 0 ] || return 1
  local s
  s=$(median <"$WORK/up.txt")
  row "up of the quickstart until all $want replicas ready" "< 3 s: $(verdict "$s" 3)" "${s} s" \
      "$(join <"$WORK/up.txt")" "\`steward up --listen 127.0.0.1:0\`, polled by \`steward status --json\` every 20 ms"
  s=$(median <"$WORK/down.txt")
  row "stop after SIGINT until the process exits" "—" "${s} s" "$(join <"$WORK/down.txt")" "\`kill -INT\`"
  local d h r
  d=$(cut -d' ' -f1 "$WORK/rss.txt" | median | awk '{printf "%.1f", $1 / 1024}')
  h=$(cut -d' ' -f2 "$WORK/rss.txt" | median | awk '{printf "%.1f", $1 / 1024}')
  r=$(cut -d' ' -f3 "$WORK/rss.txt" | median | awk '{printf "%.1f", $1 / 1024}')
  row "daemon RSS, quickstart running, 5 s settled" "< 30 MB: $(verdict "$d" 30)" "${d} MB" \
      "$(cut -d' ' -f1 "$WORK/rss.txt" | awk '{printf "%.1f\n", $1 / 1024}' | join)" \
      "VmRSS of the \`up\` process"
  row "daemon peak RSS (VmHWM) by then" "—" "${h} MB" "" ""
  row "the $want replicas' RSS, total" "—" "${r} MB" "" "sum of VmRSS"
}

log "machine: $(nproc) CPUs, $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)"
failed=0
bench_plan || failed=1
bench_peer || failed=1
bench_up || failed=1

echo
echo "Steward benchmarks, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs ($(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)), build $BUILD_DIR"
echo "Medians of $RUNS runs. Command: bench/run.sh $1"
echo
echo "| Measure | Target | Median | All runs | Command |"
echo "|---|---|---|---|---|"
printf '%s\n' "${ROWS[@]}"
[ "$failed" -eq 0 ] || { log "some benchmarks failed (see above)"; exit 1; }
