# TAP helpers for the shell tests in test/t/.  Sourced after lib.sh.
n=0
failed=0
# ok GOT EXPECTED DESCRIPTION
ok() {
  n=$((n + 1))
  if [ "$1" = "$2" ]; then
    echo "ok $n - $3"
  else
    echo "not ok $n - $3"
    echo "#   got: '$1'"
    echo "#   expected: '$2'"
    failed=1
  fi
}
