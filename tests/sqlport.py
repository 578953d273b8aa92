#!/usr/bin/python3
"""sqlport: SQL that runs on MariaDB 10.3+ and MySQL 5.7.8+/8.0/8.4, checked.

Reads every statement in sql/ and every SQL string in src/*.c (adjacent C
string literals, with the string macros of src/ expanded) and fails on the
syntax in RULES: each is MariaDB-only, MySQL-only, or missing from the
oldest supported version of one of them.  TAP; also checks itself on a
copy of the tree with planted lines.

    tests/sqlport.py            check $YTC_SRCDIR (default: this tree), TAP
    tests/sqlport.py DIR        check the tree DIR, list what is wrong
    tests/sqlport.py --list     every statement found, one a line
    tests/sqlport.py --coverage DIR   which statements of src/ no test sent
                                (DIR: the general logs YTC_SQL_SEEN collects;
                                the server saw ytcache's names with the
                                default table prefix, ytcache_, or none)

It also checks that every table and constraint that sql/ or src/ creates is
in db_names of src/db.c: a name missing there would not get the table prefix.

To add a rule: a (name, regex, why) row in RULES; the regex is matched,
case-insensitively, against one statement with its whitespace collapsed.
"""

import os
import re
import shutil
import sys
import tempfile

RULES = [
    ("ALTER ... IF [NOT] EXISTS", r"\bALTER\s+TABLE\b.*\bIF\s+(NOT\s+)?EXISTS\b",
     "MariaDB only: MySQL 5.7/8.0/8.4 have no IF [NOT] EXISTS in ALTER TABLE (the runner "
     "treats duplicate column/key/table as applied instead)"),
    ("CREATE/DROP INDEX IF [NOT] EXISTS", r"\b(CREATE|DROP)\s+(UNIQUE\s+|FULLTEXT\s+|SPATIAL\s+)?INDEX\s+IF\b",
     "MariaDB only"),
    ("RETURNING", r"\bRETURNING\b", "MariaDB 10.5+ only (INSERT/DELETE ... RETURNING)"),
    ("SEQUENCE", r"\b(CREATE|ALTER|DROP)\s+SEQUENCE\b|\b(NEXTVAL|LASTVAL|SETVAL)\s*\(|\bNEXT\s+VALUE\s+FOR\b",
     "MariaDB 10.3+ only"),
    ("CREATE OR REPLACE", r"\bCREATE\s+OR\s+REPLACE\s+(?!VIEW\b|ALGORITHM\b|DEFINER\b|SQL\s+SECURITY\b)",
     "MariaDB only (MySQL has it for views alone)"),
    ("uca1400 collation", r"\b\w*_uca1400_\w*", "MariaDB 10.10+ only"),
    ("_0900_ collation", r"\b\w*_0900_\w*", "MySQL 8.0+ only; also the default an 8.0 table gets when it names none"),
    ("VALUES() in an upsert", r"\bON\s+DUPLICATE\s+KEY\s+UPDATE\b.*\bVALUES\s*\(",
     "deprecated since MySQL 8.0.20 (a warning); the replacement, a row alias, is MySQL-only. "
     "Allowed only where ALLOW says why"),
    ("upsert row alias", r"\)\s+AS\s+\w+(\s*\([\w\s,]*\))?\s+ON\s+DUPLICATE\s+KEY\b|\bSET\b.*\bAS\s+\w+\s+ON\s+DUPLICATE\s+KEY\b",
     "MySQL 8.0.19+ only: a syntax error on MariaDB and MySQL 5.7"),
    ("JSON_TABLE", r"\bJSON_TABLE\s*\(", "MySQL 8.0+ and MariaDB 10.6+ only (not 5.7, 10.3)"),
    ("window function", r"\)\s*OVER\s*(\(|\w)|\bWINDOW\s+\w+\s+AS\s*\(", "not on MySQL 5.7"),
    ("common table expression", r"^\s*WITH\s+(RECURSIVE\s+)?\w+(\s*\([^)]*\))?\s+AS\s*\(",
     "not on MySQL 5.7"),
    ("INTERSECT/EXCEPT", r"\b(INTERSECT|EXCEPT)\b", "MySQL 8.0.31+ only"),
    ("-> / ->> JSON operator", r"\w\s*->>?\s*'", "MySQL only"),
    ("MariaDB-only JSON function", r"\bJSON_(DETAILED|LOOSE|COMPACT|EXISTS|QUERY|NORMALIZE|EQUALS|ARRAY_INTERSECT|OBJECT_FILTER_KEYS|OBJECT_TO_ARRAY|KEY_VALUE)\s*\(",
     "MariaDB only"),
    ("MySQL-only JSON function", r"\bJSON_(PRETTY|STORAGE_SIZE|STORAGE_FREE|SCHEMA_VALID|SCHEMA_VALIDATION_REPORT|VALUE)\s*\(|\bMEMBER\s+OF\s*\(",
     "MySQL only"),
    ("JSON aggregate", r"\bJSON_(ARRAYAGG|OBJECTAGG)\s*\(", "MariaDB 10.5+ only on MariaDB"),
    ("REGEXP_ function", r"\bREGEXP_(REPLACE|SUBSTR|INSTR|LIKE)\s*\(", "not on MySQL 5.7"),
    ("RENAME COLUMN", r"\bRENAME\s+COLUMN\b", "MySQL 8.0+ and MariaDB 10.5.2+ only"),
    ("expression DEFAULT", r"\bDEFAULT\s*\(", "MySQL 8.0.13+ only"),
    ("SKIP LOCKED / NOWAIT", r"\bSKIP\s+LOCKED\b|\bNOWAIT\b|\bWAIT\s+\d+\b",
     "not on MySQL 5.7 or MariaDB 10.3 (WAIT n: MariaDB only)"),
    ("MariaDB-only engine", r"\bENGINE\s*=\s*(Aria|ColumnStore|RocksDB|Spider|S3|CONNECT|SEQUENCE)\b", "MariaDB only"),
    ("MariaDB-only sql_mode", r"\bSIMULTANEOUS_ASSIGNMENT\b|\bEMPTY_STRING_IS_NULL\b|\bTIME_ROUND_FRACTIONAL\b",
     "MariaDB only: an unknown sql_mode is an error on MySQL"),
    ("removed sql_mode", r"\bNO_AUTO_CREATE_USER\b", "removed in MySQL 8.0: an error there"),
    ("MariaDB-only statement", r"^\s*(SHOW\s+(EXPLAIN|ANALYZE)|ANALYZE\s+(SELECT|UPDATE|DELETE|INSERT))\b|\bSYSTEM\s+VERSIONING\b|\bFOR\s+SYSTEM_TIME\b",
     "MariaDB only"),
]

# Where a rule is broken on purpose, and why (file, C name of the statement, rule).
ALLOW = {
    ("src/cache.c", "SQL_STORE", "VALUES() in an upsert"):
        "the body is sent once: VALUES(col) is the one form every supported server accepts "
        "(MySQL 8.0.20+ only warns); sending it twice halves the largest storable answer",
}

SQL_START = re.compile(r"^\s*(SELECT|INSERT|UPDATE|DELETE|REPLACE|CREATE|ALTER|DROP|SET|START|COMMIT|ROLLBACK|"
                       r"WITH|TRUNCATE|SHOW|LOCK|UNLOCK|RENAME|GRANT|ANALYZE|OPTIMIZE)\b")   # SQL is upper case here
_LIT = r'"(?:[^"\\\n]|\\.)*"'
_RUN = re.compile(r"(?:%s|[A-Z_][A-Z0-9_]*)(?:\s*(?:%s|[A-Z_][A-Z0-9_]*))*" % (_LIT, _LIT))
_DEFINE = re.compile(r"^\s*#\s*define\s+([A-Z_][A-Z0-9_]*)\s+((?:%s\s*(?:\\\n\s*)?)+)\s*$" % _LIT, re.M)


def _strip_c_comments(text):
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if c == '"' or c == "'":
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if text[j] == "\\" else 1
            out.append(text[i:j + 1])
            i = j + 1
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append("\n" * text.count("\n", i, j) or " ")
            i = j
        elif text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        else:
            out.append(c)
            i += 1
    return "".join(out)


def _unc(lit):
    s = lit[1:-1]
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), s)


_NUMDEF = re.compile(r"^\s*#\s*define\s+([A-Z_][A-Z0-9_]*)\s+(\d+)\b", re.M)
_STRDEF = re.compile(r"^\s*#\s*define\s+([A-Z_][A-Z0-9_]*)\s+UTIL_STR\(\s*([A-Z_][A-Z0-9_]*)\s*\)", re.M)
_UTIL_STR = re.compile(r"UTIL_STR\(\s*([A-Z_][A-Z0-9_]*)\s*\)")


def _src_texts(root):
    src = os.path.join(root, "src")
    for fn in sorted(os.listdir(src)):
        if fn.endswith((".c", ".h")) and fn != "sql_embed.c":
            yield _strip_c_comments(open(os.path.join(src, fn), encoding="utf-8", errors="replace").read())


def _numbers(root):
    """Number macros (#define NAME 123) of every file in src/: what
    UTIL_STR(NAME) splices into a statement."""
    return {m.group(1): m.group(2) for text in _src_texts(root) for m in _NUMDEF.finditer(text)}


def _macros(root):
    """String macros of every file in src/: #define NAME "..." "...", and
    #define NAME UTIL_STR(NUMBER_MACRO) (a number spliced into SQL)."""
    out, nums = {}, _numbers(root)
    for text in _src_texts(root):
        # a number spliced into a string macro ("... INTERVAL " UTIL_STR(N) " DAY")
        text = _UTIL_STR.sub(lambda m: '"%s"' % nums.get(m.group(1), m.group(1)), text)
        for m in _DEFINE.finditer(text):
            out[m.group(1)] = "".join(_unc(x) for x in re.findall(_LIT, m.group(2)))
        for m in _STRDEF.finditer(text):
            out[m.group(1)] = nums.get(m.group(2), m.group(2))
    out["__numbers__"] = nums
    return out


def c_statements(root, path, macros):
    """(line, C name, SQL) of each run of adjacent string literals (macros
    between them expanded) that reads as an SQL statement."""
    text = _strip_c_comments(open(os.path.join(root, path), encoding="utf-8", errors="replace").read())
    nums = macros.get("__numbers__", {})
    text = _UTIL_STR.sub(lambda m: '"%s"' % nums.get(m.group(1), m.group(1)), text)
    out = []
    for m in _RUN.finditer(text):
        parts = re.findall(r"%s|[A-Z_][A-Z0-9_]*" % _LIT, m.group(0))
        if not any(p.startswith('"') for p in parts):
            continue
        sql = "".join(_unc(p) if p.startswith('"') else macros.get(p, " " + p + " ") for p in parts)
        if not SQL_START.match(sql):
            continue
        before = text[:m.start()]
        # "static const char NAME[] =" or "static const struct db_stmt NAME = DB_STMT("
        name = re.search(r"(\w+)\s*(?:\[\s*\])?\s*=\s*(?:DB_STMT\s*\(\s*)?$", before)
        out.append((before.count("\n") + 1, name.group(1) if name else "", sql))
    return out


def sql_statements(root, path):
    """(line, '', SQL) of each statement of an .sql file (ends with ';' at a line's end)."""
    out, cur, first = [], [], None
    for i, line in enumerate(open(os.path.join(root, path), encoding="utf-8", errors="replace"), 1):
        if line.strip().startswith("--") or not line.strip():
            continue
        if first is None:
            first = i
        cur.append(line)
        if line.rstrip().endswith(";"):
            out.append((first, "", "".join(cur).rstrip().rstrip(";")))
            cur, first = [], None
    if cur:
        out.append((first, "", "".join(cur)))
    return out


def statements(root):
    """Every statement of the tree: (file, line, C name, SQL)."""
    out = []
    for d, _, files in sorted(os.walk(os.path.join(root, "sql"))):
        for fn in sorted(files):
            if fn.endswith(".sql"):
                rel = os.path.relpath(os.path.join(d, fn), root)
                out += [(rel,) + s for s in sql_statements(root, rel)]
    macros = _macros(root)
    for fn in sorted(os.listdir(os.path.join(root, "src"))):
        if fn.endswith(".c") and fn != "sql_embed.c":   # sql_embed.c: generated from sql/
            rel = "src/" + fn
            out += [(rel,) + s for s in c_statements(root, rel, macros)]
    return out


def problems(root):
    """(file, line, C name, rule, why, statement) for every rule broken and not allowed."""
    out = []
    for path, line, name, sql in statements(root):
        flat = " ".join(sql.split())
        for rule, rx, why in RULES:
            if re.search(rx, flat, re.I) and (path, name, rule) not in ALLOW:
                out.append((path, line, name, rule, why, flat))
    return out


def db_names(root):
    """The names src/db.c puts the table prefix before (its db_names table)."""
    text = open(os.path.join(root, "src", "db.c"), encoding="utf-8").read()
    m = re.search(r"const struct db_name db_names\[\] = \{(.*?)\n\};", text, re.S)
    return re.findall(r'\{\s*"(\w+)",\s*(?:"[^"]*"|NULL)\s*\}', m.group(1)) if m else []


_CREATED = re.compile(r"\bCREATE\s+(?:TEMPORARY\s+)?TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?`?(\w+)|\bCONSTRAINT\s+`?(\w+)"
                      r"|\bRENAME\s+TABLE\s+\w+\s+TO\s+(\w+)", re.I)


def unlisted(root):
    """(file, line, name) of each table or constraint created in sql/ or src/ and not in db_names."""
    names = set(db_names(root))
    out = []
    for path, line, _, sql in statements(root):
        for m in _CREATED.finditer(" ".join(sql.split())):
            name = next(g for g in m.groups() if g)
            if name not in names:
                out.append((path, line, name))
    return out


_PIECE = re.compile(r"'(?:[^'\\]|\\.)*'?|\"(?:[^\"\\]|\\.)*\"?|`[^`]*`?|--[^\n]*|#[^\n]*|/\*.*?(?:\*/|$)"
                    r"|[A-Za-z0-9_$]+|.", re.S)


def prefixed(sql, names, prefix="ytcache_"):
    """sql as db_prefix_names (src/db.c) sends it with `prefix`."""
    return "".join(prefix + t if t in names else t for t in _PIECE.findall(sql))


def _fmt(p):
    path, line, name, rule, why, flat = p
    return "%s:%d%s: %s (%s): %s" % (path, line, " " + name if name else "", rule, why,
                                     flat if len(flat) < 160 else flat[:157] + "...")


# ---------------------------------------------------------------- TAP
_n = [0, 0]


def ok(cond, name):
    _n[0] += 1
    if not cond:
        _n[1] += 1
    print("%s %d - %s" % ("ok" if cond else "not ok", _n[0], name))
    return cond


def planted(root, relpath, text, append=True, check=problems):
    """check() (problems()) of a copy of the tree with `text` added to (or replacing) relpath."""
    tmp = tempfile.mkdtemp(prefix="sqlport-")
    try:
        for d in ("sql", "src"):
            shutil.copytree(os.path.join(root, d), os.path.join(tmp, d),
                            ignore=shutil.ignore_patterns("*.o", "*.a", ".deps", "sql_embed.c"))
        p = os.path.join(tmp, relpath)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "a" if append else "w") as f:
            f.write(text)
        return check(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def selftest(root):
    base = problems(root)
    ok(not base, "sql/ and src/ use only syntax that MariaDB 10.3+ and MySQL 5.7.8+/8.0/8.4 share")
    for p in base:
        print("# " + _fmt(p))
    stmts = statements(root)
    files = sorted({s[0] for s in stmts})
    ok(len(stmts) > 50 and any(f.startswith("sql/") for f in files) and "src/cache.c" in files,
       "%d statements read from %d files" % (len(stmts), len(files)))
    ok(any(s[2] == "SQL_STORE" and "ON DUPLICATE KEY UPDATE" in s[3] for s in stmts),
       "the cache upsert is among them, found by its C name")
    ok(any("sql_mode" in s[3] and "STRICT_ALL_TABLES" in s[3] for s in stmts),
       "a macro between literals is expanded (the session's sql_mode)")
    cases = [
        ("sql/migrations/099_planted.sql", "\nALTER TABLE cache ADD COLUMN IF NOT EXISTS planted INT;\n",
         "ALTER ... IF [NOT] EXISTS"),
        ("sql/migrations/099_planted.sql", "\nCREATE INDEX IF NOT EXISTS idx_p ON cache (status);\n",
         "CREATE/DROP INDEX IF [NOT] EXISTS"),
        ("src/planted.c", 'static const char SQL_P[] = "DELETE FROM cache WHERE status = ?"\n'
         '    " RETURNING cache_key";\n', "RETURNING"),
        ("src/planted.c", 'static const char SQL_P[] =\n    "INSERT INTO daily_counters (day, name, value)'
         ' VALUES (?, ?, ?)"\n    " ON DUPLICATE KEY UPDATE value = value + VALUES(value)";\n',
         "VALUES() in an upsert"),
        ("src/planted.c", 'static const char SQL_P[] = "INSERT INTO t (a) VALUES (?) AS new'
         ' ON DUPLICATE KEY UPDATE a = new.a";\n', "upsert row alias"),
        ("sql/migrations/099_planted.sql", "\nCREATE TABLE t (a VARCHAR(8)) COLLATE=utf8mb4_uca1400_ai_ci;\n",
         "uca1400 collation"),
        ("sql/migrations/099_planted.sql", "\nCREATE OR REPLACE TABLE t (a INT);\n", "CREATE OR REPLACE"),
        ("src/planted.c", 'static const char q[] = "SELECT ROW_NUMBER() OVER (ORDER BY hits) FROM cache";\n',
         "window function"),
    ]
    for rel, text, rule in cases:
        got = planted(root, rel, text)
        hit = [p for p in got if p[3] == rule and p[0] == rel]
        ok(len(hit) == 1 and len(got) == 1, "planted %s in %s: found, and nothing else" % (rule, rel))
        for p in got:
            print("#   " + _fmt(p))
    missing = unlisted(root)
    ok(not missing and len(db_names(root)) >= 10,
       "every table and constraint sql/ and src/ create is in db_names of src/db.c (so it gets the prefix)")
    for m in missing:
        print("#   %s:%d: %s is not in db_names" % m)
    got = planted(root, "sql/migrations/099_planted.sql", "\nCREATE TABLE IF NOT EXISTS planted_t (a INT);\n",
                  check=unlisted)
    ok([g[2] for g in got] == ["planted_t"], "a planted CREATE TABLE of a name not in db_names is found")
    # a statement that is fine stays fine
    got = planted(root, "src/planted.c", 'static const char q[] = "INSERT IGNORE INTO breaker (name)'
                  ' VALUES (\'x\')";\n')
    ok(not got, "a plain INSERT ... VALUES (...) is not mistaken for an upsert's VALUES()")
    print("1..%d" % _n[0])
    return 1 if _n[1] else 0


_GLOG = re.compile(r"^(?:\d{6}\s+[\d:]+\s+|\d{4}-\d\d-\d\dT\S+\s+)?\s*\d+\s+(\w+)\t(.*)$")


def seen_statements(logdir):
    """Whitespace-collapsed text of every Prepare and Query in the general logs of logdir."""
    seen = set()
    for fn in sorted(os.listdir(logdir)):
        cur = None
        for line in open(os.path.join(logdir, fn), encoding="utf-8", errors="replace"):
            m = _GLOG.match(line.rstrip("\n"))
            if m:
                if cur is not None:
                    seen.add(" ".join(cur.split()))
                cur = m.group(2) if m.group(1) in ("Prepare", "Query") else None
            elif cur is not None:
                cur += "\n" + line
        if cur is not None:
            seen.add(" ".join(cur.split()))
    return seen


def coverage(root, logdir):
    """TAP: each statement of src/ was sent to the server by some test."""
    seen = seen_statements(logdir)
    stmts = [s for s in statements(root) if s[0].startswith("src/")]
    names = set(db_names(root))
    missed = []
    for path, line, name, sql in stmts:
        flats = {" ".join(sql.split()), " ".join(prefixed(sql, names).split())}
        if not flats & seen and not any(x.startswith(f) for x in seen for f in flats):
            missed.append("%s:%d %s: %s" % (path, line, name or "-", flat[:120]))
    print("1..1")
    print("%s 1 - %d of %d SQL statements of src/ reached the server (%d distinct seen in %d logs)"
          % ("not ok" if missed else "ok", len(stmts) - len(missed), len(stmts), len(seen), len(os.listdir(logdir))))
    for m in missed:
        print("#   never sent: " + m)
    return 1 if missed else 0


def main(argv):
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    if len(argv) > 1 and argv[1] == "--list":
        root = argv[2] if len(argv) > 2 else os.environ.get("YTC_SRCDIR") or here
        for path, line, name, sql in statements(root):
            print("%s:%d %s\t%s" % (path, line, name or "-", " ".join(sql.split())))
        return 0
    if len(argv) > 2 and argv[1] == "--coverage":
        return coverage(os.environ.get("YTC_SRCDIR") or here, argv[2])
    if len(argv) > 1:
        got = problems(argv[1])
        for p in got:
            print(_fmt(p))
        return 1 if got else 0
    return selftest(os.environ.get("YTC_SRCDIR") or here)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
