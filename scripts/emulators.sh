#!/usr/bin/env bash
# Local emulators for kcl's tests and demo: kinesis-local (Kinesis, with enhanced fan-out) and
# dynalite (DynamoDB), pinned npm packages installed into a git-ignored cache of this repository.
#
#   scripts/emulators.sh install        install the pinned packages (and Node.js when missing)
#   scripts/emulators.sh start          start both on free loopback ports, wait until they answer
#   scripts/emulators.sh env            print the endpoints as shell exports (eval "$(... env)")
#   scripts/emulators.sh stop           stop both by PID: SIGTERM, then SIGKILL after 10 s
#   scripts/emulators.sh run CMD ARGS   start, run CMD with the endpoints exported, always stop
#
# `run` is what `make test` and `make demo` use: its trap stops the emulators however CMD ends
# (success, failure, Ctrl-C, SIGTERM), so an interrupted run leaves nothing behind.
set -euo pipefail

KINESIS_LOCAL_VERSION=0.6.2
DYNALITE_VERSION=4.0.0

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
}

free_port() {
	node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

wait_port() { # name port pid
	local name=$1 port=$2 pid=$3 i
	for i in $(seq 1 300); do
		if ! kill -0 "$pid" 2>/dev/null; then
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
	local kport ktls dport
	kport=$(free_port)
	ktls=$(free_port)
	dport=$(free_port)

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
	(cd "$ddir" && exec node "$ddir/cli.js" --host 127.0.0.1 --port "$dport" \
		--createTableMs 50 --deleteTableMs 50 --updateTableMs 50) >"$state/dynalite.log" 2>&1 &
	echo $! >"$state/dynalite.pid"

	if ! wait_port kinesis-local "$kport" "$(cat "$state/kinesis-local.pid")" ||
		! wait_port dynalite "$dport" "$(cat "$state/dynalite.pid")"; then
		cmd_stop
		return 1
	fi
	cat >"$state/env" <<EOF
export KCL_TEST_KINESIS_ENDPOINT=http://127.0.0.1:$kport
export KCL_TEST_KINESIS_TLS_ENDPOINT=https://127.0.0.1:$ktls
export KCL_TEST_DYNAMODB_ENDPOINT=http://127.0.0.1:$dport
EOF
	log "kinesis-local on 127.0.0.1:$kport (TLS $ktls), dynalite on 127.0.0.1:$dport"
}

pids_alive() {
	local f
	for f in "$state"/kinesis-local.pid "$state"/dynalite.pid; do
		[ -f "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null || return 1
	done
}

stop_pid() { # name
	local f="$state/$1.pid" pid i
	[ -f "$f" ] || return 0
	pid=$(cat "$f")
	if kill -TERM "$pid" 2>/dev/null; then
		for i in $(seq 1 100); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		if kill -0 "$pid" 2>/dev/null; then
			log "$1 (pid $pid) ignored SIGTERM for 10 s: SIGKILL"
			kill -KILL "$pid" 2>/dev/null || true
		fi
	fi
	rm -f "$f"
}

cmd_stop() {
	stop_pid kinesis-local
	stop_pid dynalite
	rm -f "$state/env"
}

cmd_env() {
	if [ ! -f "$state/env" ]; then
		log "not running: start them with scripts/emulators.sh start"
		return 1
	fi
	cat "$state/env"
}

cmd_run() {
	[ $# -gt 0 ] || { log "run needs a command"; return 2; }
	# A private state directory: this run owns exactly the emulators it starts.
	state=$(mktemp -d "${TMPDIR:-/tmp}/kcl-emulators.XXXXXX")
	# Globals, not locals: the EXIT trap runs after this function has returned.
	run_child="" run_watchdog=""
	# Ctrl-C or SIGTERM: stop the command's whole process group (go test and its test binaries),
	# then the EXIT trap stops the emulators.
	# A signal can land between the fork and `run_child=$!`; $! is the child by then.
	stop_child() {
		local pid=${run_child:-$!}
		if [ -n "$pid" ] && [ "$pid" != "$run_watchdog" ]; then
			kill -TERM -- "-$pid" 2>/dev/null
			wait "$pid" 2>/dev/null || true
		fi
	}
	trap 'stop_child; exit 130' INT
	trap 'stop_child; exit 143' TERM
	trap 'rc=$?; [ -n "$run_watchdog" ] && kill "$run_watchdog" 2>/dev/null; cmd_stop; rm -rf "$state"; exit $rc' EXIT
	cmd_start
	# shellcheck disable=SC1091
	source "$state/env"
	# The command runs in a session (and process group) of its own, so the traps above reach all
	# of it; it runs in the background so that `wait` returns as soon as a signal arrives.
	setsid "$@" &
	run_child=$!
	# Should this script itself be SIGKILLed, the watchdog still stops the command and the emulators.
	local me=$$ kpid dpid
	kpid=$(cat "$state/kinesis-local.pid")
	dpid=$(cat "$state/dynalite.pid")
	(
		trap - EXIT INT TERM
		while kill -0 "$me" 2>/dev/null; do sleep 1; done
		kill -TERM -- "-$run_child" 2>/dev/null
		kill -KILL "$kpid" "$dpid" 2>/dev/null
	) >/dev/null 2>&1 &
	run_watchdog=$!
	local rc=0
	wait "$run_child" || rc=$?
	run_child=""
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
