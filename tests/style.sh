#!/bin/sh
# Style gate: no unbounded or unchecked C library calls in src/. The rule:
#   format with snprintf or buf_appendf, not sprintf/vsprintf (unbounded);
#   copy with util_copy or a memcpy of a known length, not strcpy/strcat;
#   split with strchr by hand, not strtok (hidden state, not reentrant);
#   parse numbers with util_parse_ll/util_parse_long, not atoi/atol/atoll
#   (no error, undefined on overflow); never gets.
srcdir="${YTC_SRCDIR:-.}/src"
echo "1..1"
hits=$(grep -nE '\b(sprintf|vsprintf|strcpy|strcat|strtok|atoi|atol|atoll|gets)[[:space:]]*\(' "$srcdir"/*.c "$srcdir"/*.h 2>/dev/null)
if [ -n "$hits" ]; then
  echo "not ok 1 - banned functions in src/"
  echo "$hits" | sed 's/^/# /'
  exit 1
fi
echo "ok 1 - no sprintf/strcpy/strcat/strtok/atoi in src/"
