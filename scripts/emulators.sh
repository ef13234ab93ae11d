#!/usr/bin/env bash
# Local emulators for kcl's tests and demo: kinesis-local (Kinesis, with enhanced fan-out),
# dynalite (DynamoDB) and kinesalite (a second Kinesis, without enhanced fan-out), pinned npm
# packages installed into a git-ignored cache of this repository.
#
#   scripts/emulators.sh install        install the pinned packages (and Node.js when missing)
#   scripts/emulators.sh start          start them on free loopback ports, wait until they answer
#   scripts/emulators.sh env            print the endpoints as shell exports (eval "$(... env)");
#                                       fails when an emulator is no longer running
#   scripts/emulators.sh stop           stop them by PID: SIGTERM, then SIGKILL after 5 s
#   scripts/emulators.sh run CMD ARGS   start, run CMD with the endpoints exported, always stop
#
# `run` is what `make test` and `make demo` use: its traps stop CMD and the emulators however
# CMD ends (success, failure, Ctrl-C, SIGTERM), so an interrupted run leaves nothing behind;
# scripts/test-interrupts.sh checks that.
set -euo pipefail

KINESIS_LOCAL_VERSION=0.6.2
DYNALITE_VERSION=4.0.0
KINESALITE_VERSION=3.3.3
EMULATORS="kinesis-local dynalite kinesalite"

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cache=${KCL_EMULATOR_CACHE:-$root/.cache/emulators}
# State (PIDs, ports) lives per invocation directory so parallel runs do not trample each other.
state=${KCL_EMULATOR_STATE:-$cache/state}

log() { printf 'emulators: %s\n' "$*" >&2; }

ensure_node() {
	if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then return; fi
	log "node/npm missing: installing Debian's nodejs and npm"
	local sudo=""
	[ "$(id -u)" -eq 0 ] || sudo=sudo
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq nodejs npm >/dev/null
}

install_pkg() { # dir package version entry
	local dir=$1 pkg=$2 version=$3 entry=$4
	local have
	have=$(node -p "require('$dir/node_modules/$pkg/package.json').version" 2>/dev/null || true)
	if [ "$have" = "$version" ] && [ -f "$dir/node_modules/$pkg/$entry" ]; then return; fi
	log "installing $pkg@$version into $dir"
	mkdir -p "$dir"
	npm install --no-audit --no-fund --loglevel=error --prefix "$dir" "$pkg@$version" >&2
}

cmd_install() {
	ensure_node
	install_pkg "$cache/kinesis-local" kinesis-local "$KINESIS_LOCAL_VERSION" main.js
	install_pkg "$cache/dynalite" dynalite "$DYNALITE_VERSION" cli.js
	install_pkg "$cache/kinesalite" kinesalite "$KINESALITE_VERSION" cli.js
}

free_port() {
	node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

wait_port() { # name port pid
	local name=$1 port=$2 pid=$3 i
	for i in $(seq 1 300); do
		if ! alive "$pid"; then
			log "$name (pid $pid) died while starting; its log: $state/$name.log"
			tail -n 20 "$state/$name.log" >&2 || true
			return 1
		fi
		if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
		sleep 0.1
	done
	log "$name did not answer on 127.0.0.1:$port within 30 s"
	return 1
}

cmd_start() {
	if [ -f "$state/env" ] && pids_alive; then
		log "already running ($state/env)"
		return
	fi
	cmd_install
	mkdir -p "$state"
	local kport ktls dport lport
	kport=$(free_port)
	ktls=$(free_port)
	dport=$(free_port)
	lport=$(free_port)

	local kdir="$cache/kinesis-local/node_modules/kinesis-local"
	# kinesis-local listens on all interfaces and has no host flag; we only ever talk to 127.0.0.1.
	(cd "$kdir" && exec env KINESIS_MOCK_PLAIN_PORT="$kport" KINESIS_MOCK_TLS_PORT="$ktls" \
		KINESIS_MOCK_CERT_PATH="$kdir/server.json" CREATE_STREAM_DURATION=100ms \
		DELETE_STREAM_DURATION=100ms REGISTER_STREAM_CONSUMER_DURATION=100ms \
		DEREGISTER_STREAM_CONSUMER_DURATION=100ms SPLIT_SHARD_DURATION=200ms \
		MERGE_SHARDS_DURATION=200ms UPDATE_SHARD_COUNT_DURATION=200ms \
		LOG_LEVEL=WARN SHARD_LIMIT=1000 \
		node "$kdir/main.js") >"$state/kinesis-local.log" 2>&1 &
	echo $! >"$state/kinesis-local.pid"

	local ddir="$cache/dynalite/node_modules/dynalite"
	# The preload keeps dynalite alive when a client aborts a request (see the file).
	(cd "$ddir" && exec node -r "$root/scripts/dynalite-keepalive.js" "$ddir/cli.js" --host 127.0.0.1 --port "$dport" \
		--createTableMs 50 --deleteTableMs 50 --updateTableMs 50) >"$state/dynalite.log" 2>&1 &
	echo $! >"$state/dynalite.pid"

	# kinesalite has no host flag either.
	local ldir="$cache/kinesalite/node_modules/kinesalite"
	(cd "$ldir" && exec node "$ldir/cli.js" --port "$lport" --shardLimit 1000 \
		--createStreamMs 50 --deleteStreamMs 50 --updateStreamMs 50) >"$state/kinesalite.log" 2>&1 &
	echo $! >"$state/kinesalite.pid"

	if ! wait_port kinesis-local "$kport" "$(cat "$state/kinesis-local.pid")" ||
		! wait_port dynalite "$dport" "$(cat "$state/dynalite.pid")" ||
		! wait_port kinesalite "$lport" "$(cat "$state/kinesalite.pid")"; then
		cmd_stop
		return 1
	fi
	cat >"$state/env" <<EOF
export KCL_TEST_KINESIS_ENDPOINT=http://127.0.0.1:$kport
export KCL_TEST_KINESIS_TLS_ENDPOINT=https://127.0.0.1:$ktls
export KCL_TEST_DYNAMODB_ENDPOINT=http://127.0.0.1:$dport
export KCL_TEST_KINESALITE_ENDPOINT=http://127.0.0.1:$lport
EOF
	log "kinesis-local on 127.0.0.1:$kport (TLS $ktls), dynalite on 127.0.0.1:$dport, kinesalite on 127.0.0.1:$lport"
}

# alive PID: the process exists and is not a zombie (an emulator whose starter exited is
# reaped by whoever adopted it, which may take its time).
alive() {
	kill -0 "$1" 2>/dev/null || return 1
	local st
	st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1) || return 0
	[ "$st" != Z ]
}

pids_alive() {
	local name
	for name in $EMULATORS; do
		[ -f "$state/$name.pid" ] && alive "$(cat "$state/$name.pid")" || return 1
	done
}

# stop_pids NAME...: SIGTERM to each at once, SIGKILL to those still there after 5 s.
stop_pids() {
	local name pid pids="" still i
	for name in "$@"; do
		[ -f "$state/$name.pid" ] || continue
		pid=$(cat "$state/$name.pid")
		if kill -TERM "$pid" 2>/dev/null; then pids="$pids $pid"; fi
	done
	for i in $(seq 1 50); do
		still=""
		for pid in $pids; do
			if alive "$pid"; then still="$still $pid"; fi
		done
		pids=$still
		[ -n "$pids" ] || break
		sleep 0.1
	done
	for pid in $pids; do
		log "pid $pid ignored SIGTERM for 5 s: SIGKILL"
		kill -KILL "$pid" 2>/dev/null || true
	done
	for name in "$@"; do rm -f "$state/$name.pid"; done
}

cmd_stop() {
	# shellcheck disable=SC2086
	stop_pids $EMULATORS
	rm -f "$state/env"
}

cmd_env() {
	if [ ! -f "$state/env" ]; then
		log "not running: start them with scripts/emulators.sh start"
		return 1
	fi
	if ! pids_alive; then
		log "an emulator is no longer running (logs in $state): scripts/emulators.sh stop, then start"
		return 1
	fi
	cat "$state/env"
}

# What `run` cleans up. Globals: the EXIT trap runs after cmd_run has returned.
run_state="" run_child="" run_launching="" run_watchdog="" run_cleaning=""

# run_stop_child ends CMD's whole session: SIGTERM, then SIGKILL after 5 s. A signal can land
# between the fork and `run_child=$!`; $! is the child then.
run_stop_child() {
	local pid=$run_child i
	if [ -z "$pid" ] && [ -n "$run_launching" ]; then pid=$!; fi
	[ -n "$pid" ] || return 0
	kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || return 0
	for i in $(seq 1 50); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL -- "-$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}

# run_cleanup is the EXIT trap of `run`. It must get to the end whatever happens: no errexit,
# and further Ctrl-Cs or SIGTERMs are ignored while it runs (normally well under a second).
run_cleanup() {
	local rc=$? pid
	set +e
	trap '' INT TERM
	[ -z "$run_cleaning" ] || return 0
	run_cleaning=1
	run_stop_child
	[ -z "$run_watchdog" ] || kill -KILL "$run_watchdog" 2>/dev/null
	if [ -n "$run_state" ]; then
		state=$run_state
		cmd_stop
		# An emulator whose PID file was not written yet (a signal right after its fork) is
		# still one of this shell's background jobs.
		for pid in $(jobs -p); do kill -KILL "$pid" 2>/dev/null; done
		rm -rf "$run_state"
	fi
	exit "$rc"
}

cmd_run() {
	[ $# -gt 0 ] || { log "run needs a command"; return 2; }
	# Traps first, then the private state directory: this run owns exactly the emulators it
	# starts, and nothing it creates can outlive an interrupt.
	trap 'exit 130' INT
	trap 'exit 143' TERM
	trap run_cleanup EXIT
	run_state=$(mktemp -d "${TMPDIR:-/tmp}/kcl-emulators.XXXXXX")
	state=$run_state
	cmd_start
	# shellcheck disable=SC1091
	source "$state/env"
	# CMD runs in a session (and process group) of its own, so the clean-up reaches all of it
	# (go test and its test binaries); in the background, so that `wait` returns as soon as a
	# signal arrives.
	run_launching=1
	setsid "$@" &
	run_child=$!
	# Should this script itself be SIGKILLed, the watchdog still stops CMD and the emulators.
	# A Ctrl-C reaches the whole foreground process group: the watchdog ignores SIGINT.
	local me=$$ pids="" name
	for name in $EMULATORS; do pids="$pids $(cat "$state/$name.pid")"; done
	(
		trap - EXIT TERM
		trap '' INT
		while kill -0 "$me" 2>/dev/null; do sleep 1; done
		kill -KILL -- "-$run_child" 2>/dev/null
		# shellcheck disable=SC2086
		kill -KILL $pids 2>/dev/null
		rm -rf "$run_state"
	) >/dev/null 2>&1 &
	run_watchdog=$!
	disown "$run_watchdog" # no "Killed" notice when the clean-up ends it
	local rc=0
	wait "$run_child" || rc=$?
	run_child="" run_launching=""
	return $rc
}

case "${1:-}" in
install) cmd_install ;;
start) cmd_start ;;
stop) cmd_stop ;;
env) cmd_env ;;
run) shift; cmd_run "$@" ;;
*)
	echo "usage: $0 install|start|stop|env|run CMD [ARGS...]" >&2
	exit 2
	;;
esac
