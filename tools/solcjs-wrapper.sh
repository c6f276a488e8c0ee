#!/usr/bin/env bash
# solcjs (npm "solc") behind the command line of a native solc, so that py-solc-x and brownie
# can drive it. Installed by `python -m ledger.chain.toolchain` as ~/.solcx/solc-v<version>, with
# SOLCJS below replaced by the absolute path of node_modules/solc/solc.js.
set -u
SOLCJS="@SOLCJS@"
args=()
have_base=0
while [ $# -gt 0 ]; do
  case "$1" in
    --version)
      echo "solc, the solidity compiler commandline interface"
      echo "Version: $(node "$SOLCJS" --version)"
      exit 0 ;;
    --allow-paths) shift 2; continue ;;          # solcjs has no such option
    --allow-paths=*) shift; continue ;;
    --base-path|--base-path=*) have_base=1 ;;
  esac
  args+=("$1")
  shift
done
[ "$have_base" = 1 ] || args+=(--base-path .)
# Through a pipe solcjs's output broke at 64 KiB: let it write to a file, then print that. Its
# input goes through a file too: node's synchronous read of a pipe fails now and then with EAGAIN.
out=$(mktemp)
in=$(mktemp)
trap 'rm -f "$out" "$in"' EXIT
cat >"$in"
node "$SOLCJS" "${args[@]}" <"$in" >"$out"
rc=$?
sed '1{/^>>>/d}' "$out"
exit $rc
