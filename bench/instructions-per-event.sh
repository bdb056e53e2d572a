#!/usr/bin/env bash
# Instructions per event, counted by valgrind's callgrind: repeatable whatever else the machine is doing, where
# wall and CPU time are not. For each client (a minimal raw amqplib client, the same raw client sending the library's
# message, and the compiled library), runs bench/instructions-client.mjs twice under callgrind, with the same
# 3,000-event warm-up and 2,000 or 8,000 more events, and divides the difference by 6,000: what one awaited
# publish-and-receive costs once warm, start-up and compilation excluded (young-generation garbage collection included,
# but not the memory reducer's: under valgrind a process looks idle to V8, whose memory reducer then runs full
# collections that a real run does not). Needs valgrind (apt-get install valgrind) and the build (npm run build).
# About 15 minutes.
# usage: bench/instructions-per-event.sh
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "instructions-per-event: valgrind is not installed (apt-get install valgrind)" >&2; exit 2; }
[ -f dist/lib/index.js ] || { echo "instructions-per-event: no build; run npm run build first" >&2; exit 2; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
count() { # client events -> instructions of the whole process
  W=3000 N="$2" valgrind --tool=callgrind --smc-check=all --callgrind-out-file="$out/$1.$2" node --no-memory-reducer bench/instructions-client.mjs "$1" 2>&1 |
    sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}
declare -A per
for client in minimal amqplib library; do
  small=$(count "$client" 2000)
  large=$(count "$client" 8000)
  per[$client]=$(( (large - small) / 6000 ))
  echo "$client: ${per[$client]} instructions per event"
done
awk -v l="${per[library]}" -v m="${per[minimal]}" -v a="${per[amqplib]}" 'BEGIN { printf "library/minimal: %.2f\nlibrary/amqplib (the library'"'"'s code): %.2f\namqplib/minimal (the message): %.2f\n", l / m, l / a, a / m }'
