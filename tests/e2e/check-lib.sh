# shellcheck shell=bash
# tests/e2e/check-lib.sh: the frame of a CHECK-style scenario script (scenario-peers.sh,
# scenario-ftps.sh, scenario-split.sh). Source it after scripts/lab/lab.sh, set KIND, then:
#   checks_begin ID          root and `ftpalg run` required (else RESULT skip, exit 77), lab_init,
#                            a watchdog (SCENARIO_TIMEOUT, default 58 s) whose SIGTERM reports
#                            "scenario_timeout" and cleans up
#   check NAME STATUS DETAIL "CHECK NAME ok|FAIL DETAIL" (STATUS 0 = ok)
#   fail REASON              RESULT fail REASON, exit 1
#   wait_pid, wait_for_line, wait_for_events, log_events: helpers, described where defined
#   ftpalg_stop_checked      stops ftpalg (SIGTERM), checks its exit status and residue
#   checks_end               ftpalg_stop_checked unless done, RESULT, exit
# Output: CHECK lines, DECISION lines (scripts/lab/logsum.py --decisions), then
#   RESULT pass|fail|skip reason=R kind=K checks=N failed=N ftpalg_exit=N residue=R dir=D
# (tests/e2e/scenario_support.hpp parses it). KEEP=1 keeps the work dir of a passing run.

checks=0 failed=0 ftpalg_exit=n/a residue=n/a result_printed=
check() {
  checks=$((checks + 1))
  if [[ $2 == 0 ]]; then
    echo "CHECK $1 ok $3"
  else
    echo "CHECK $1 FAIL $3"
    failed=$((failed + 1))
  fi
}

result() {
  [[ -n $result_printed ]] && return
  result_printed=1
  if [[ -f ${LAB_FTPALG_LOG:-/nonexistent} ]]; then
    "$LAB_PY" "$LAB_HERE/logsum.py" --decisions "$LAB_FTPALG_LOG" | sed 's/^/DECISION /'
  fi
  local dir=${LAB_DIR:-none}
  [[ -n ${LAB_RM_DIR:-} ]] && dir=removed
  echo "RESULT $1 reason=$2 kind=${KIND:-} checks=$checks failed=$failed" \
    "ftpalg_exit=$ftpalg_exit residue=$residue dir=$dir"
}

fail() {
  result fail "$1"
  exit 1
}

checks_begin() {
  if [[ $(id -u) != 0 ]]; then result skip not_root; exit 77; fi
  if ! lab_ftpalg_available "${FTPALG_BIN:-}"; then result skip ftpalg_run_unavailable; exit 77; fi
  LAB_QUIET=${LAB_QUIET-1}
  lab_init "$1" || { result fail lab_init_failed; exit 1; }
  (
    trap 'kill "$s" 2>/dev/null; exit 0' TERM
    sleep "${SCENARIO_TIMEOUT:-58}" &
    s=$!
    wait "$s" && kill -TERM $$ 2>/dev/null
  ) &
  LAB_PIDS+=($!)
  trap 'result fail scenario_timeout; lab_cleanup; trap - EXIT; exit 1' TERM
  trap 'result fail interrupted; lab_cleanup; trap - EXIT; exit 130' INT
}

# ftpalg_stop_checked: stop ftpalg (SIGTERM; its log then ends with the stats event) and check
# that it exited 0 and left nothing behind. checks_end does it if it was not done before.
ftpalg_stop_checked() {
  [[ -n ${LAB_PID_ftpalg:-} ]] || return 0
  lab_ftpalg_stop TERM
  ftpalg_exit=$LAB_FTPALG_RC
  lab_ftpalg_residue >"$LAB_DIR/residue.txt"
  if [[ -s $LAB_DIR/residue.txt ]]; then residue=stale; else residue=clean; fi
  check ftpalg_clean_exit "$([[ $ftpalg_exit == 0 && $residue == clean ]] && echo 0 || echo 1)" \
    "exit=$ftpalg_exit residue=$residue"
}

checks_end() {
  ftpalg_stop_checked
  if ((failed == 0)); then
    [[ -z ${KEEP:-} ]] && LAB_RM_DIR=1
    result pass ok
    exit 0
  fi
  result fail checks_failed
  exit 1
}

# wait_for_line FILE REGEX [TENTHS]: until a line of FILE matches REGEX (default 10 s); prints it.
wait_for_line() {
  local file=$1 regex=$2 tenths=${3:-100} i line
  for ((i = 0; i < tenths; i++)); do
    line=$(grep -m1 -E "$regex" "$file" 2>/dev/null) && { echo "$line"; return 0; }
    sleep 0.1
  done
  return 1
}

# wait_pid PID SECONDS: wait until PID (started by this shell, lab_bg) exits, at most SECONDS, then
# SIGTERM it; its exit status goes to WAIT_RC (143 when it had to be stopped).
wait_pid() {
  local pid=$1 seconds=$2 i
  for ((i = 0; i < seconds * 10; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  lab_stop "$pid" TERM 2
  WAIT_RC=$LAB_STOP_RC
}

# wait_for_events EVENT N [TENTHS]: until ftpalg's log holds N events EVENT (default 5 s).
wait_for_events() {
  local i
  for ((i = 0; i < ${3:-50}; i++)); do
    (($(log_events "$1" | grep -c .) >= $2)) && return 0
    sleep 0.1
  done
  return 1
}

# log_events EVENT: ftpalg's JSON log lines of EVENT, one per line.
log_events() { "$LAB_PY" "$LAB_HERE/logsum.py" --events "${LAB_FTPALG_LOG:-/nonexistent}" "$1"; }
