#!/usr/bin/env bash
# The npm package aws-kcl (the official KCL for Node.js), pinned, for the multilang tests:
# their Node.js record processor is written on it and runs under kcl-multilang.
#
#   scripts/aws-kcl.sh install   install it into a git-ignored cache of this repository
#   scripts/aws-kcl.sh path      install if needed, then print the node_modules directory
#
# Only the library is used: --ignore-scripts, and its kcl-bootstrap (which downloads the
# Java daemon's jars from Maven) is never run.
set -euo pipefail

AWS_KCL_VERSION=2.3.2

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dir=${KCL_AWS_KCL_CACHE:-$root/.cache/aws-kcl}

install() {
	local have
	have=$(node -p "require('$dir/node_modules/aws-kcl/package.json').version" 2>/dev/null || true)
	if [ "$have" = "$AWS_KCL_VERSION" ]; then return; fi
	printf 'aws-kcl: installing aws-kcl@%s into %s\n' "$AWS_KCL_VERSION" "$dir" >&2
	mkdir -p "$dir"
	npm install --no-audit --no-fund --ignore-scripts --loglevel=error --prefix "$dir" "aws-kcl@$AWS_KCL_VERSION" >&2
}

case "${1:-}" in
install) install ;;
path)
	install
	printf '%s\n' "$dir/node_modules"
	;;
*)
	echo "usage: $0 install|path" >&2
	exit 2
	;;
esac
