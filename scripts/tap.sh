# TAP helpers for the shell tests in test/t/.  Sourced after lib.sh.
n=0
failed=0
pass() { n=$((n + 1)); echo "ok $n - $1"; }
fail() { n=$((n + 1)); echo "not ok $n - $1"; failed=1; }
# ok GOT EXPECTED DESCRIPTION
ok() {
  if [ "$1" = "$2" ]; then
    pass "$3"
  else
    fail "$3"
    echo "#   got: '$1'"
    echo "#   expected: '$2'"
  fi
}
# ok_cmp A OP B DESCRIPTION: numeric comparison (OP: -lt -le -ge -gt -eq)
ok_cmp() { if [ "$1" "$2" "$3" ] 2>/dev/null; then pass "$4"; else fail "$4"; echo "#   got: $1, wanted $2 $3"; fi; }
# ok_match TEXT ERE DESCRIPTION / ok_nomatch TEXT ERE DESCRIPTION
ok_match() { if printf '%s' "$1" | grep -Eq -- "$2"; then pass "$3"; else fail "$3"; echo "#   got: '$(printf '%s' "$1" | head -c 1500)'"; echo "#   wanted match: '$2'"; fi; }
ok_nomatch() { if printf '%s' "$1" | grep -Eq -- "$2"; then fail "$3"; echo "#   got: '$(printf '%s' "$1" | grep -E -- "$2" | head -c 1500)'"; echo "#   must not match: '$2'"; else pass "$3"; fi; }
