#!/usr/bin/env bash
# Runs every libFuzzer target of a fuzz build for a while, each on a scratch copy of its seed
# corpus (tests/fuzz/corpus/<name>/), so the checked-in seeds never change.
#
#   tests/fuzz/run.sh BUILD_DIR [SECONDS]     # SECONDS per target, default 30
#
# Exit status: 0 when no target crashed; 1 when one did (its input path and the sanitizer
# report are printed; the scratch directory holding it is kept); 2 on usage errors.
# Build BUILD_DIR first: scripts/fuzz-smoke, or `make fuzz`.
set -uo pipefail

usage() { echo "usage: $0 BUILD_DIR [SECONDS]" >&2; exit 2; }
[ $# -ge 1 ] && [ $# -le 2 ] || usage
BUILD_DIR=$1
SECONDS_EACH=${2:-30}
[[ $SECONDS_EACH =~ ^[0-9]+$ ]] && [ "$SECONDS_EACH" -gt 0 ] || usage
HERE=$(cd "$(dirname "$0")" && pwd)

# target binary : seed corpus directory and dictionary base name
TARGETS=(stack_parser_fuzz:stack_parser stack_json_fuzz:stack_json exposition_fuzz:exposition
         promql_selector_fuzz:promql_selector promql_expr_fuzz:promql_expr
         import_fuzz:tsdb_import rules_fuzz:rules template_fuzz:template
         rule_test_fuzz:rule_tests glob_fuzz:glob)

TARGETS+=(pipeline_parse_fuzz:pipeline_parse workflow_parse_fuzz:workflow_parse expr_fuzz:expr)
TARGETS+=(backup_tree_fuzz:backup_tree)
TARGETS+=(lockfile_fuzz:lockfile scan_input_fuzz:scan_input)

WORK=$(mktemp -d "${TMPDIR:-/tmp}/steward-fuzz.XXXXXX")
keep_work=0
cleanup() { [ "$keep_work" = 1 ] || rm -rf "$WORK"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}

failed=0
for entry in "${TARGETS[@]}"; do
  target=${entry%%:*}
  name=${entry#*:}
  bin=$BUILD_DIR/bin/$target
  if [ ! -x "$bin" ]; then
    echo "fuzz: $bin not built (scripts/fuzz-smoke builds it)" >&2
    failed=1
    continue
  fi
  corpus=$WORK/$name/corpus
  artifacts=$WORK/$name/artifacts
  mkdir -p "$corpus" "$artifacts"
  cp "$HERE/corpus/$name/"* "$corpus/"
  dict=()
  [ -f "$HERE/$name.dict" ] && dict=(-dict="$HERE/$name.dict")
  log=$WORK/$name/fuzz.log
  echo "fuzz: $target for ${SECONDS_EACH}s ($(ls "$corpus" | wc -l) seeds)"
  # -timeout: one input taking 10 s is a hang. The outer timeout is a backstop in case the
  # fuzzer itself wedges (it should stop by -max_total_time).
  timeout --kill-after=10 $((SECONDS_EACH + 60)) "$bin" "$corpus" "${dict[@]}" \
      -max_total_time="$SECONDS_EACH" -rss_limit_mb=2048 -timeout=10 \
      -artifact_prefix="$artifacts/" -print_final_stats=1 >"$log" 2>&1
  rc=$?
  crash=$(ls "$artifacts" 2>/dev/null | head -n 1)
  if [ "$rc" -ne 0 ] || [ -n "$crash" ]; then
    failed=1
    keep_work=1
    echo "fuzz: $target FAILED (exit $rc)" >&2
    grep -E '^(==[0-9]+==ERROR|SUMMARY|.*runtime error)' "$log" | head -n 5 >&2
    [ -n "$crash" ] && echo "fuzz: crashing input: $artifacts/$crash" >&2
    echo "fuzz: full log: $log" >&2
  else
    done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -n 1)
    echo "fuzz: $target ok: ${done_line:-no stats}"
  fi
done
exit "$failed"
