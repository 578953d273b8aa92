#!/bin/sh
# Format gate: src/*.c and src/*.h keep what .editorconfig declares for them
# (spaces, no tab anywhere, no trailing blanks, LF line ends, a final
# newline, lines of at most 120 columns).
srcdir="${YTC_SRCDIR:-.}/src"
max=120
echo "1..1"
out=$(awk -v max="$max" '
    /\t/ { print FILENAME ":" FNR ": a tab" }
    /\r$/ { print FILENAME ":" FNR ": a CR line end" }
    /[ ]$/ { print FILENAME ":" FNR ": trailing blanks" }
    length($0) > max { print FILENAME ":" FNR ": " length($0) " columns (at most " max ")" }
' "$srcdir"/*.c "$srcdir"/*.h)
# awk cannot see a missing final newline: ask tail
for f in "$srcdir"/*.c "$srcdir"/*.h; do
    [ -s "$f" ] && [ "$(tail -c 1 "$f" | wc -l)" -eq 0 ] &&
        out="$out
$f: no newline at the end of the file"
done
out=$(printf '%s\n' "$out" | sed '/^$/d')
if [ -n "$out" ]; then
    echo "not ok 1 - src/ does not follow .editorconfig"
    printf '%s\n' "$out" | sed 's/^/# /'
    exit 1
fi
echo "ok 1 - src/ follows .editorconfig (spaces, no trailing blanks, LF, final newline, <= $max columns)"
