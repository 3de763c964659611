#!/usr/bin/env bash
# Mutation run (a tool for reviews, not part of CI): which tests notice a deliberate one-line bug?
#
# Copies the tracked files of the working tree to a scratch directory, builds them there (the
# house build: RelWithDebInfo, -Werror) and checks that `ctest -L 'unit|golden'` passes. Then, one
# at a time, each mutation below replaces one literal text (which must occur exactly once in its
# file) by another, rebuilds, runs `ctest -L 'unit|golden'` and restores the file. A mutation is
#   killed      some test failed (the table names them),
#   survived    every test passed: a finding (a missing test, or dead code),
#   stillborn   it does not compile (the compiler, not a test, caught it),
#   no-match    its text is not in the file exactly once (the code moved on: update the list).
# The fuzz targets are not run (a clang build of their own: scripts/fuzz.sh).
#
# Usage: scripts/mutation.sh [--out FILE] [--keep] [ID...]      (default: every mutation)
#   --out FILE   also write the result table (Markdown) to FILE
#   --keep       keep the scratch tree (printed) instead of deleting it
# Environment: MUTATION_JOBS (build and ctest parallelism, default 2).
# The whole script is one compound command, read before it runs: editing the file during a run
# (about 40 minutes on 2 cores) cannot change the running one.
{
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
jobs=${MUTATION_JOBS:-2}
out=""
keep=""
selected=()
while (($# > 0)); do
  case $1 in
    --out) out=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    -*) echo "mutation.sh: unknown option $1" >&2; exit 2 ;;
    *) selected+=("$1"); shift ;;
  esac
done

# ---- the mutations: ID, file, literal text, its replacement, what the bug would be -------------
ids=() files=() froms=() tos=() whats=()
mutation() {
  ids+=("$1") files+=("$2") froms+=("$3") tos+=("$4") whats+=("$5")
}

# Policy: src/engine/announcement.cpp (port floor, port zero, anti-bounce, NAT target).
A=src/engine/announcement.cpp
mutation P1 $A 'if (parsed.port < policy.dataPortFloor)' 'if (parsed.port <= policy.dataPortFloor)' \
  'port floor off by one: 1024 refused'
mutation P2 $A 'if (parsed.port < policy.dataPortFloor)' 'if (parsed.port + 1 < policy.dataPortFloor)' \
  'port floor off by one: 1023 accepted'
mutation P3 $A 'if (parsed.port < policy.dataPortFloor)' \
  'if (fromClient && parsed.port < policy.dataPortFloor)' \
  'port floor for PORT/EPRT only: a 227/229 may name port 22'
mutation P4 $A 'if (parsed.port == 0) return' 'if (false) return' \
  'port zero not told apart (refused as below the floor)'
mutation P5 $A '(!fromClient && *parsed.address == announcerSeen.address)' \
  '(false && *parsed.address == announcerSeen.address)' \
  'a server naming the public address it is reached at (pasv_address) refused'
mutation P6 $A '(!fromClient && *parsed.address == announcerSeen.address)' \
  '(*parsed.address == announcerSeen.address)' \
  'a client may name the router'"'"'s public address (bounce to the router)'
mutation P7 $A 'policy.antiBounce == AntiBounceMode::Strict && !embeddedIsAnnouncer' \
  'policy.antiBounce == AntiBounceMode::Peer && !embeddedIsAnnouncer' \
  'anti-bounce off in strict mode'
mutation P8 $A '(*parsed.address == announcerReal.address ||' '(*parsed.address == connector ||' \
  'anti-bounce compares with the connecting peer instead of the announcer'
mutation P9 $A 'if (!rate.take(now, limits.pinholesPerSecond, limits.pinholeBurst))' \
  'if (false && !rate.take(now, limits.pinholesPerSecond, limits.pinholeBurst))' \
  'pinhole rate limit ignored'
mutation P10 $A 'pinholes.size() >= limits.maxPinholes' 'pinholes.size() > limits.maxPinholes' \
  'global pinhole cap off by one'
mutation P11 $A 'if (realTarget != decision.announced) decision.natTo = realTarget;' \
  'decision.natTo = realTarget;' \
  'a NAT target even when nothing is translated'
mutation P12 $A 'const std::int64_t verbEnd = line.offset + (fromClient ? 4 : 3);' \
  'const std::int64_t verbEnd = line.offset + (fromClient ? 4 : 4);' \
  'a reply whose 4th byte already left is still rewritten'

# Channel: src/ftp/control_channel.cpp (reply correlation, continuation lines, greeting).
C=src/ftp/control_channel.cpp
mutation C1 $C 'if (oldest != Pending::Pasv) return refused(AddressVerb::Reply227' \
  'if (false) return refused(AddressVerb::Reply227' \
  'a 227 that no PASV asked for is accepted'
mutation C2 $C 'if (oldest != Pending::Epsv) return refused(AddressVerb::Reply229' \
  'if (oldest != Pending::Epsv && oldest != Pending::Pasv) return refused(AddressVerb::Reply229' \
  'a 229 answering PASV is accepted'
mutation C3 $C '  if (multiLineCode_) {
    // RFC 959' '  if (multiLineCode_ && false) {
    // RFC 959' \
  'continuation lines of a multi-line reply read as first lines'
mutation C4 $C 'const bool isFinalLine = reply && reply->code == *multiLineCode_ && !reply->multiLineStart;' \
  'const bool isFinalLine = reply && reply->code == *multiLineCode_;' \
  'a "227-" line inside a 227 reply ends it'
mutation C5 $C 'multiLineAnswersCommand_ = isFinalCode(reply->code);' 'multiLineAnswersCommand_ = false;' \
  'a multi-line final reply answers no command (the pending queue drifts)'
mutation C6 $C 'if (reply && reply->code == kGreeting) {' 'if (reply && isFinalCode(reply->code)) {' \
  'any final reply counts as the 220 greeting'
mutation C7 $C 'if (reply && isPreliminaryCode(reply->code)) {' 'if (false) {' \
  'a 1yz before the greeting makes the flow not FTP'
mutation C8 $C '      epsvAll_ = true;' '      epsvAll_ = false;' \
  'EPSV ALL forgotten'
mutation C9 $C 'return (argument[0] | 0x20) == '"'"'a'"'"'' 'return argument[0] == '"'"'a'"'"'' \
  '"EPSV ALL" recognised in lower case only'
mutation C10 $C '  popPending();
  if (code == kAuthAccepted) {' '  if (code == kAuthAccepted) {' \
  'a final reply does not consume its command'
mutation C11 $C 'bool isFinalCode(std::uint16_t code) { return code >= 200 && code < 700; }' \
  'bool isFinalCode(std::uint16_t code) { return code >= 200 && code < 600; }' \
  '6yz protected replies (RFC 2228) not final'
mutation C12 $C 'if (reply->code == kPassive) return refused(AddressVerb::Reply227' \
  'if (false) return refused(AddressVerb::Reply227' \
  'a 227 from the client is not reported'
mutation C13 $C '    epsvAll_ = false;
    pushPending(Pending::Rein);' '    pushPending(Pending::Rein);' \
  'REIN keeps EPSV ALL'

# Sequence code: src/tcp/seq_adjuster.cpp and src/engine/packet_emitter.cpp (seq/ack/SACK mapping).
S=src/tcp/seq_adjuster.cpp
mutation S1 $S 'return edit.originalEnd() <= x && edit.offset < x; }' \
  'return edit.originalEnd() < x && edit.offset < x; }' \
  'an edit ending exactly at x not yet passed'
mutation S2 $S 'if (index < edits_.size() && edits_[index].offset < x) {' \
  'if (index < edits_.size() && edits_[index].offset <= x) {' \
  'toOutput: the start of a span maps to the end of its replacement'
mutation S3 $S '    if (outputEnd <= y) {' '    if (outputEnd < y) {' \
  'toOriginal: an ACK exactly at a replacement'"'"'s end counts it unacknowledged'
# (Not "edits_[lo].offset + delta < y" -> "<=": at equality both branches return the same offset,
# an equivalent mutant.)
mutation S4 $S 'return edits_[lo].offset;  // strictly inside' 'return y - delta;  // strictly inside' \
  'toOriginal: an ACK inside a replacement acknowledges part of it'
mutation S5 $S 'if (edit.replacement.size() > maxOutput - produced) break;' 'if (false) break;' \
  'a replacement may grow a segment past the receiver'"'"'s MSS'
mutation S6 $S 'return index < edits_.size() && edits_[index].offset < b;' \
  'return index < edits_.size() && edits_[index].offset <= b;' \
  'touches: a range ending at an edit touches it'
mutation S7 $S 'return std::clamp(x + baseDelta_, firstEditOffset_, pruneFloor_ + baseDelta_);' \
  'return std::clamp(x, firstEditOffset_, pruneFloor_ + baseDelta_);' \
  'below the prune floor the pruned delta is forgotten'
mutation S8 $S 'pruneFloor_ = std::max({pruneFloor_, last.originalEnd(), last.offset + 1});' \
  'pruneFloor_ = std::max({pruneFloor_, last.originalEnd()});' \
  'prune: a pruned insertion leaves no floor'

E=src/engine/packet_emitter.cpp
mutation E1 $E 'sack[i].right = other.unwrap.wrap(other.adjuster.toOriginal(other.unwrap.peek(block.right)))' \
  'sack[i].right = block.right' \
  'SACK right edges left untranslated'
mutation E2 $E 'sack[i].left = other.unwrap.wrap(other.adjuster.toOriginal(other.unwrap.peek(block.left)));' \
  'sack[i].left = block.left;' \
  'SACK left edges left untranslated'
mutation E3 $E 'const SeqNum newAck = other.unwrap.wrap(ackOriginal);' 'const SeqNum newAck = packet.ack();' \
  'ACK numbers left untranslated'
mutation E4 $E 'const std::int64_t outOffset = me.adjuster.toOutput(seqOffset);' \
  'const std::int64_t outOffset = seqOffset;' \
  'sequence numbers left untranslated'
mutation E5 $E 'other.adjuster.prune(std::min(ackOriginal, other.emittedEnd));' \
  'other.adjuster.prune(ackOriginal);' \
  'the edit log pruned past what was emitted'
mutation E6 $E 'seqOffset = std::min(seqOffset, decidedFrontier(session, dir));' \
  'seqOffset = std::max(seqOffset, decidedFrontier(session, dir));' \
  'a payload-free packet past the frontier keeps its own seq'
mutation E7 $E ': offset + static_cast<std::int64_t>(payloadSize) <= frontier;' \
  ': offset + static_cast<std::int64_t>(payloadSize) < frontier;' \
  'a packet ending exactly at the decided frontier is held'
mutation E8 $E 'me.receiverMss != 0 ? me.receiverMss' 'me.receiverMss != 0 ? me.receiverMss + 100' \
  'segments may exceed the receiver'"'"'s MSS by 100 bytes'
mutation E9 $E '? (packet.hasFlag(tcp_flags::kFin) && offset > frontier)' '? false' \
  'a FIN overtakes the undecided bytes before it'

# ---- running -------------------------------------------------------------------------------
if ((${#selected[@]} > 0)); then
  for id in "${selected[@]}"; do
    [[ " ${ids[*]} " == *" $id "* ]] || { echo "mutation.sh: no mutation $id" >&2; exit 2; }
  done
fi

commit=$(git -C "$root" rev-parse --short HEAD)
dirty=""
[[ -n $(git -C "$root" status --porcelain --untracked-files=no) ]] && dirty=" (with uncommitted changes)"
scratch=$(mktemp -d /tmp/ftpalg-mutation-XXXXXX)
if [[ -n $keep ]]; then echo "scratch tree: $scratch"; else trap 'rm -rf "$scratch"' EXIT; fi

echo "== copy the tracked tree at $commit$dirty to $scratch"
git -C "$root" ls-files -z | (cd "$root" && tar --null -T - -cf -) | tar -xf - -C "$scratch"

build() {
  cmake --build "$scratch/build" -j"$jobs" >"$scratch/build.log" 2>&1
}
# Runs the unit and golden tests; prints the failed tests' names, one per line.
run_tests() {
  ctest --test-dir "$scratch/build" -L 'unit|golden' -j"$jobs" --timeout 300 >"$scratch/ctest.log" 2>&1 \
    || true
  sed -n 's/^[[:space:]]*[0-9]\{1,\} - \([^ ]*\) (.*)$/\1/p' "$scratch/ctest.log"
}

echo "== baseline build and tests"
cmake -S "$scratch" -B "$scratch/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFTPALG_BENCH=OFF >/dev/null
if ! build; then
  tail -30 "$scratch/build.log" >&2
  echo "mutation.sh: the unmutated tree does not build" >&2
  exit 1
fi
baseline=$(run_tests)
total=$(sed -n 's/.*tests passed, [0-9]* tests failed out of \([0-9]*\).*/\1/p' "$scratch/ctest.log")
if [[ -n $baseline ]]; then
  echo "mutation.sh: the unmutated tree fails tests:" >&2
  echo "$baseline" >&2
  exit 1
fi
echo "baseline: $total tests pass"

# Summarises failed test names: unit tests by name, golden cases counted by test kind.
summarise() {
  local names=$1 unit golden n
  [[ -z $names ]] && return
  unit=$(grep '^unit\.' <<<"$names" | sed 's/^unit\.//' || true)
  golden=$(grep '^golden\.' <<<"$names" || true)
  local parts=()
  if [[ -n $unit ]]; then
    n=$(wc -l <<<"$unit")
    parts+=("$n unit: $(head -4 <<<"$unit" | paste -sd, - | sed 's/,/, /g')$( ((n > 4)) && echo ", ...")")
  fi
  if [[ -n $golden ]]; then
    n=$(wc -l <<<"$golden")
    local cases
    cases=$(sed -n 's/^golden\.Fixtures\/[A-Za-z]*\.[A-Za-z]*\/\(.*\)$/\1/p' <<<"$golden" | sort -u)
    parts+=("$n golden ($(wc -l <<<"$cases") cases: $(head -4 <<<"$cases" | paste -sd, - | sed 's/,/, /g')$(
      (($(wc -l <<<"$cases") > 4)) && echo ", ..."))")
  fi
  local IFS=';'
  echo "${parts[*]}" | sed 's/;/; /g'
}

# Table cell text: lines joined, '|' escaped and backquotes replaced for Markdown.
esc() { sed 's/|/\\|/g; s/`/'"'"'/g' <<<"$1" | paste -sd' ' -; }

rows=()
killed=0 survived=0 other=0
for i in "${!ids[@]}"; do
  id=${ids[$i]} file=${files[$i]} from=${froms[$i]} to=${tos[$i]} what=${whats[$i]}
  if ((${#selected[@]} > 0)) && [[ " ${selected[*]} " != *" $id "* ]]; then continue; fi
  target=$scratch/$file
  cp "$target" "$scratch/original"
  count=$(FROM=$from python3 -c 'import os, sys; print(open(sys.argv[1]).read().count(os.environ["FROM"]))' \
    "$target")
  if [[ $count != 1 ]]; then
    result="no-match ($count)" tests=""
    other=$((other + 1))
  else
    FROM=$from TO=$to python3 -c '
import os, sys
text = open(sys.argv[1]).read()
open(sys.argv[1], "w").write(text.replace(os.environ["FROM"], os.environ["TO"], 1))' "$target"
    if ! build; then
      result=stillborn tests=""
      other=$((other + 1))
    else
      failed=$(run_tests)
      if [[ -n $failed ]]; then
        result=killed tests=$(summarise "$failed")
        killed=$((killed + 1))
      else
        result=SURVIVED tests=""
        survived=$((survived + 1))
      fi
    fi
    cp "$scratch/original" "$target"
  fi
  echo "$id $result${tests:+: $tests}"
  rows+=("| $id | \`$(esc "$file")\` | $(esc "$what") | \`$(esc "$from")\` -> \`$(esc "$to")\` | $result |"\
" $(esc "$tests") |")
done
build || true  # leave the scratch build unmutated

{
  echo "Mutation run of $commit$dirty, $(date -u +%Y-%m-%d), $total unit and golden tests:" \
    "$killed killed, $survived survived, $other not run."
  echo
  echo "| ID | file | the bug | mutation | result | killed by |"
  echo "| --- | --- | --- | --- | --- | --- |"
  printf '%s\n' "${rows[@]}"
} >"$scratch/table.md"
echo
cat "$scratch/table.md"
if [[ -n $out ]]; then cp "$scratch/table.md" "$out"; fi
exit 0
}
