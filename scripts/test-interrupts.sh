#!/usr/bin/env bash
# Checks that `scripts/emulators.sh run CMD` leaves nothing behind when interrupted: it sends
# SIGINT to the run's whole process group, as a terminal's Ctrl-C does, at several moments
# (while installing/starting, while waiting for the ports, while CMD runs, twice in a row,
# and as CMD ends), and SIGTERM once; then it checks that the run ended within 15 s and that
# no emulator, no CMD and no temporary folder of the run is left. It also checks that
# `emulators.sh env` fails once an emulator has died, and that dynalite survives a client
# aborting a request. CI runs it (.ci/run).
set -euo pipefail
# Job control: each run below is a background job in a process group of its own, with SIGINT
# not ignored, as a job in an interactive shell (without it, bash starts background commands
# with SIGINT ignored, and a shell cannot trap a signal ignored on entry).
set -m
cd "$(dirname "$0")/.."

fail() { printf 'test-interrupts: FAIL: %s\n' "$*" >&2; exit 1; }
say() { printf 'test-interrupts: %s\n' "$*" >&2; }

scripts/emulators.sh install
real_cache=${KCL_EMULATOR_CACHE:-$PWD/.cache/emulators}
work=$(mktemp -d "${TMPDIR:-/tmp}/kcl-interrupts.XXXXXX")
trap 'pkill -KILL -f -- "$work/|987\.$$" 2>/dev/null || true; rm -rf "$work"' EXIT
# A private cache of links to the installed emulators: their command lines then name $work,
# which tells this test's processes apart from any other emulators on the machine.
mkdir -p "$work/cache" "$work/tmp"
for e in kinesis-local dynalite kinesalite; do ln -s "$real_cache/$e" "$work/cache/$e"; done

leftovers() {
	local procs
	procs=$(pgrep -af -- "$work/cache/|987\.$$" || true)
	[ -z "$procs" ] || printf 'processes:\n%s\n' "$procs"
	if [ -n "$(ls -A "$work/tmp")" ]; then printf 'temporary folders: %s\n' "$(ls -A "$work/tmp")"; fi
}

# interrupt NAME SIGNAL WHEN: WHEN is a delay in seconds, or "running" (once the endpoints
# are exported to CMD), or "ending" (as CMD exits by itself).
interrupt() {
	local name=$1 sig=$2 when=$3 cmd=(sleep "987.$$") i
	[ "$when" != ending ] || cmd=(bash -c 'sleep 0.5')
	# The run gets a process group of its own (set -m), as a shell's foreground job does.
	KCL_EMULATOR_CACHE="$work/cache" TMPDIR="$work/tmp" \
		scripts/emulators.sh run "${cmd[@]}" >"$work/run.log" 2>&1 &
	local pid=$!
	case $when in
	running)
		for i in $(seq 1 600); do
			if pgrep -f -- "sleep 987\.$$" >/dev/null; then break; fi
			sleep 0.05
		done
		;;
	ending) sleep 0.1; for i in $(seq 1 600); do
			if ! pgrep -f -- "$work/cache/" >/dev/null; then break; fi
			if pgrep -f -- "sleep 0.5" >/dev/null; then sleep 0.5; break; fi
			sleep 0.05
		done ;;
	twice) sleep 1.5 ;;
	*) sleep "$when" ;;
	esac
	kill "-$sig" -- "-$pid" 2>/dev/null || true
	if [ "$when" = twice ]; then sleep 0.1; kill "-$sig" -- "-$pid" 2>/dev/null || true; fi
	local start=$SECONDS
	for i in $(seq 1 150); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		cat "$work/run.log" >&2
		fail "$name: the run had not ended 15 s after SIG$sig"
	fi
	wait "$pid" 2>/dev/null || true
	local left
	left=$(leftovers)
	if [ -n "$left" ]; then
		cat "$work/run.log" >&2
		fail "$name: left behind after SIG$sig: $left"
	fi
	say "ok: SIG$sig $name: ended in $((SECONDS - start)) s, nothing left"
}

interrupt "at once" INT 0
interrupt "while starting" INT 0.3
interrupt "while waiting for the ports" INT 0.8
interrupt "while the command runs" INT running
interrupt "twice while the command runs" INT twice
interrupt "as the command ends" INT ending
interrupt "while the command runs" TERM running

# env must not print the endpoints of emulators that died.
state="$work/state"
KCL_EMULATOR_CACHE="$work/cache" KCL_EMULATOR_STATE="$state" scripts/emulators.sh start
KCL_EMULATOR_CACHE="$work/cache" KCL_EMULATOR_STATE="$state" scripts/emulators.sh env >/dev/null ||
	fail "env failed while the emulators run"
# dynalite must outlive a client that aborts a request mid-body (scripts/dynalite-keepalive.js).
dport=$(sed -n 's/.*KCL_TEST_DYNAMODB_ENDPOINT=http:\/\/127.0.0.1://p' "$state/env")
node -e 'const s=require("net").connect(+process.argv[1],"127.0.0.1",()=>{s.write("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{");setTimeout(()=>s.resetAndDestroy(),200)})' "$dport"
sleep 0.5
KCL_EMULATOR_CACHE="$work/cache" KCL_EMULATOR_STATE="$state" scripts/emulators.sh env >/dev/null ||
	fail "dynalite died when a client aborted a request"
say "ok: dynalite survives an aborted request"
dead=$(cat "$state/kinesis-local.pid")
kill -KILL "$dead"
# Until the kernel has torn it down (a zombie or gone): a big process takes a moment.
for i in $(seq 1 100); do
	st=$(sed 's/.*) //' "/proc/$dead/stat" 2>/dev/null | cut -c1) || st=gone
	[ "$st" = R ] || [ "$st" = S ] || [ "$st" = D ] || break
	sleep 0.05
done
if KCL_EMULATOR_CACHE="$work/cache" KCL_EMULATOR_STATE="$state" scripts/emulators.sh env >/dev/null 2>&1; then
	fail "env printed endpoints with exit 0 after kinesis-local died"
fi
KCL_EMULATOR_CACHE="$work/cache" KCL_EMULATOR_STATE="$state" scripts/emulators.sh stop
say "ok: env fails once an emulator died"
[ -z "$(leftovers)" ] || fail "left behind: $(leftovers)"
say "all passed"
