#!/usr/bin/env bash
# Mutation check: applies named breakages of the library, one at a time, to a scratch copy of
# this repository, runs the tests that must catch each, and fails if any breakage survives
# (the tests still pass), does not apply (its pattern no longer matches) or does not build.
#
#   scripts/mutate.sh                 every breakage in scripts/mutations.sh
#   scripts/mutate.sh --ci            those not marked slow (what CI runs)
#   scripts/mutate.sh --list          list them
#   scripts/mutate.sh NAME...         just these
#   --no-baseline                     skip running each test selection unmutated first
#
# Breakages that need the emulators run under scripts/emulators.sh (started here unless the
# endpoints are already exported). The scratch copy holds the working tree as it is,
# uncommitted changes included, next to a link to ../shared; it is removed afterwards.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
GO=${GO:-go}

ci=false list=false baseline=true
names=()
for a in "$@"; do
	case $a in
	--ci) ci=true ;;
	--list) list=true ;;
	--no-baseline) baseline=false ;;
	-h | --help) sed -n '2,15p' "$0"; exit 0 ;;
	-*) echo "mutate: unknown option $a" >&2; exit 2 ;;
	*) names+=("$a") ;;
	esac
done

# The table: mutation NAME FLAGS PACKAGE TESTS FILE PERL
#   FLAGS: comma-separated; short (run with -short, no emulators), emu (needs the emulators),
#          slow (left out of --ci)
#   TESTS: the -run pattern of the tests that must catch it
#   PERL:  a perl substitution applied to FILE with perl -0pi (the whole file as one string)
M_NAME=() M_FLAGS=() M_PKG=() M_TESTS=() M_FILE=() M_PERL=()
mutation() {
	[ $# -eq 6 ] || { echo "mutate: mutation $1: want 6 fields, got $#" >&2; exit 2; }
	M_NAME+=("$1") M_FLAGS+=("$2") M_PKG+=("$3") M_TESTS+=("$4") M_FILE+=("$5") M_PERL+=("$6")
}
# shellcheck source=mutations.sh
. "${KCL_MUTATIONS:-$root/scripts/mutations.sh}" # another table, to try the script itself

has() { [[ ",$1," == *",$2,"* ]]; }

selected=()
for i in "${!M_NAME[@]}"; do
	if [ ${#names[@]} -gt 0 ]; then
		for n in "${names[@]}"; do [ "$n" = "${M_NAME[$i]}" ] && selected+=("$i"); done
	elif ! $ci || ! has "${M_FLAGS[$i]}" slow; then
		selected+=("$i")
	fi
done
if [ ${#names[@]} -gt 0 ] && [ ${#selected[@]} -ne ${#names[@]} ]; then
	echo "mutate: unknown breakage among: ${names[*]} (see --list)" >&2
	exit 2
fi

if $list; then
	for i in "${selected[@]}"; do
		printf '%-40s %-12s %-10s %s\n' "${M_NAME[$i]}" "${M_FLAGS[$i]}" "${M_PKG[$i]}" "${M_TESTS[$i]}"
	done
	exit 0
fi

need_emu=false
for i in "${selected[@]}"; do has "${M_FLAGS[$i]}" emu && need_emu=true; done
if $need_emu && [ -z "${KCL_TEST_KINESIS_ENDPOINT:-}" ]; then
	exec "$root/scripts/emulators.sh" run "$0" "$@"
fi

scratch=$(mktemp -d "${TMPDIR:-/tmp}/kcl-mutate.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
copy=$scratch/repo
mkdir -p "$copy"
(cd "$root" && git ls-files -co --exclude-standard -z | tar --null -cf - -T -) | tar -xf - -C "$copy"
if [ -e "$root/../shared" ]; then ln -s "$(cd "$root/../shared" && pwd -P)" "$scratch/shared"; fi

gotest() { # flags pkg tests log
	local short=()
	has "$1" short && short=(-short)
	(cd "$copy" && $GO test -count=1 -vet=off "${short[@]}" -timeout 10m -run "$3" "$2") >"$4" 2>&1
}

start=$(date +%s)
declare -A baseline_ok=()
failed=0
printf 'mutate: %d breakages\n' "${#selected[@]}"
for i in "${selected[@]}"; do
	name=${M_NAME[$i]} flags=${M_FLAGS[$i]} pkg=${M_PKG[$i]} tests=${M_TESTS[$i]} file=${M_FILE[$i]}
	log=$scratch/$name.log
	t0=$(date +%s)
	if $baseline; then
		key="$flags|$pkg|$tests"
		if [ -z "${baseline_ok[$key]:-}" ]; then
			if ! gotest "$flags" "$pkg" "$tests" "$log"; then
				printf 'BASELINE FAILS %-34s %s -run %s fails without any breakage:\n' "$name" "$pkg" "$tests"
				tail -n 30 "$log" | sed 's/^/    /'
				failed=$((failed + 1))
				continue
			fi
			baseline_ok[$key]=1
		fi
	fi
	cp "$root/$file" "$copy/$file"
	perl -0pi -e "${M_PERL[$i]}" "$copy/$file"
	if cmp -s "$root/$file" "$copy/$file"; then
		printf 'STALE    %-40s the substitution no longer matches %s\n' "$name" "$file"
		failed=$((failed + 1))
		continue
	fi
	if gotest "$flags" "$pkg" "$tests" "$log"; then
		printf 'SURVIVED %-40s %s -run %s still passes (%ss)\n' "$name" "$pkg" "$tests" "$(($(date +%s) - t0))"
		failed=$((failed + 1))
	elif grep -q -e '\[build failed\]' -e '\[setup failed\]' "$log"; then
		printf 'NO BUILD %-40s the mutated package does not build:\n' "$name"
		tail -n 10 "$log" | sed 's/^/    /'
		failed=$((failed + 1))
	else
		caught=$(grep -oE -e '--- FAIL: [^ ]+' -e 'panic: test timed out' "$log" | sed 's/--- FAIL: //' | grep -v / | sort -u | tr '\n' ' ')
		printf 'killed   %-40s by %s(%ss)\n' "$name" "${caught:-a build or run failure }" "$(($(date +%s) - t0))"
	fi
	cp "$root/$file" "$copy/$file"
done
printf 'mutate: %d of %d breakages not caught, %ss\n' "$failed" "${#selected[@]}" "$(($(date +%s) - start))"
[ "$failed" -eq 0 ]
