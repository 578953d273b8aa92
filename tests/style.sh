#!/bin/sh
# Style gate: no unbounded or unchecked C library calls in src/ (see README, "How we write C").
srcdir="${YTC_SRCDIR:-.}/src"
echo "1..1"
hits=$(grep -nE '\b(sprintf|vsprintf|strcpy|strcat|strtok|atoi|atol|atoll|gets)[[:space:]]*\(' "$srcdir"/*.c "$srcdir"/*.h 2>/dev/null)
if [ -n "$hits" ]; then
  echo "not ok 1 - banned functions in src/"
  echo "$hits" | sed 's/^/# /'
  exit 1
fi
echo "ok 1 - no sprintf/strcpy/strcat/strtok/atoi in src/"
