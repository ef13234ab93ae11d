#!/usr/bin/env bash
# Reproduces the figures of bench/README.md: builds the harness, runs it against fresh local
# emulators (dynalite holds the lease tables; records come from the replay source), writes
# bench/figures/*.{md,csv,json,svg}, and puts each Markdown table into the README between
# its markers. Takes ~20 minutes on 2 cores. Run it on as quiet a machine as you have: the
# load average is recorded beside every figure.
#
#   bench/figures.sh                 every figure
#   bench/figures.sh latency idle    some groups: percore, latency, idle, scale
#   bench/figures.sh --readme        only put the tables of bench/figures into the README
set -euo pipefail

# Everything runs from main, which bash has read whole before it starts: editing this file
# while it runs cannot change what it does.
main() {
	root=$(cd "$(dirname "$0")/.." && pwd)
	cd "$root"
	out=bench/figures
	if [ "${1:-}" = "--readme" ]; then
		readme
		return
	fi
	mkdir -p "$out"
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	go build -o "$tmp/kcl-bench" ./bench
	KCL_BENCH="$tmp/kcl-bench" KCL_BENCH_OUT="$out" KCL_BENCH_GROUPS="${*:-percore latency idle scale}" \
		scripts/emulators.sh run bash "$root/bench/figures.sh" --groups
	readme
	echo "figures in $out; bench/README.md updated" >&2
}

# groups runs inside scripts/emulators.sh run, with the emulators' endpoints exported.
groups() {
	local b=$KCL_BENCH o=$KCL_BENCH_OUT g
	for g in $KCL_BENCH_GROUPS; do
		echo "=== $g (load: $(cut -d' ' -f1-3 /proc/loadavg))" >&2
		case $g in
		percore)
			# Records per CPU-second, as fast as the readers take them (polling unpaced
			# too); three alternating kcl/bare pairs per setting, the median pair shown.
			"$b" sweep -out "$o" -name percore-100B -repeat 3 -shards 4 -record-size 100 -polling-max-bytes 1GiB \
				-grid 'retrieval=efo,polling;aggregate:records=0:100000,10:50000'
			"$b" sweep -out "$o" -name percore-1KiB -repeat 3 -shards 4 -record-size 1024 -polling-max-bytes 1GiB \
				-grid 'retrieval=efo,polling;aggregate:records=0:40000,10:5000'
			;;
		latency)
			"$b" latency -out "$o" -name latency -shards 4 -records 300
			;;
		idle)
			"$b" sweep -out "$o" -name idle-efo -idle -grid 'shards=1,10,100,1000' -duration 180s
			"$b" sweep -out "$o" -name idle-polling -idle -retrieval polling -grid 'shards=1,10,100' -duration 120s
			;;
		scale)
			# CPU and memory from 1 to 1,000 shards at a constant 2 MiB/s in total, 1 KiB
			# records, checkpointing every 5 s and (the Process default) after every batch.
			"$b" sweep -out "$o" -name scale-efo -record-size 1024 -records 0 -duration 40s \
				-grid 'shards:rate=1:2MiB,10:200KiB,100:20KiB,1000:2KiB;checkpoint=every:5s,batch'
			"$b" sweep -out "$o" -name scale-polling -retrieval polling -record-size 1024 -records 0 -duration 40s \
				-grid 'shards:rate=1:2MiB,10:200KiB,100:20KiB'
			;;
		*)
			echo "unknown group $g" >&2
			return 2
			;;
		esac
	done
}

# readme puts each table between <!-- figures:NAME --> and <!-- /figures:NAME -->.
readme() {
	local md name
	for md in "$out"/*.md; do
		name=$(basename "$md" .md)
		grep -q "<!-- figures:$name -->" bench/README.md || continue
		awk -v name="$name" -v file="$md" '
			$0 == "<!-- figures:" name " -->" { print; while ((getline line < file) > 0) print line; skip = 1; next }
			$0 == "<!-- /figures:" name " -->" { skip = 0 }
			!skip { print }
		' bench/README.md >bench/README.md.new
		mv bench/README.md.new bench/README.md
	done
}

if [ "${1:-}" = "--groups" ]; then
	groups
else
	main "$@"
fi
exit
