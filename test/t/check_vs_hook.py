"""Compare what the hook reported when a held-out case really ran with what check() (or
schema_guard_lint) predicted for the same files.  Called by test/t/check_vs_hook.sh.

Both sides are reduced to (file, statement, rule).  psql names the line where a statement
ends (where its semicolon is); check() and the lint name the line where it starts.  This
file finds each statement's first and last line with its own small splitter, written from
psql's documented lexing rules (quotes, dollar quotes, comments, parentheses, meta-command
lines, COPY ... FROM stdin data), independently of the reader under test: if the two
disagree about where a statement is, the case shows a mismatch.

A server error psql reports (the statement failed at deploy) is the pseudo-rule "error";
on check()'s side syntax_error, relation_missing, transaction_block_error and
statement_error predict one.
not_simulated notes have no counterpart in the hook and are listed as notes.

A fixture marks a disagreement on a comment line above the statement (or inside its
body), with the reason; marked disagreements are counted apart, never as agreement:
    -- heldout: design RULE: why check() cannot know it (data or control flow at deploy)
    -- heldout: 12a RULE: a gap issue 12a is fixing in the script simulation
    -- heldout: known RULE: a gap in check() that is not fixed yet
RULE is the hook's rule (a finding check() misses) or check()'s (one it reports where the
hook saw nothing); "error" for a server error.
"""
import json
import os
import re
import sys

ERROR_RULES = {"syntax_error", "relation_missing", "transaction_block_error", "statement_error"}
ANNOTATION = re.compile(r"--\s*heldout:\s*(design|12a|known)\s+([a-z_]+):\s*(.+)$")
HOOK_LINE = re.compile(r"^psql:(.+?):(\d+): (WARNING|ERROR):  (.*)$")
GUARD_MESSAGE = re.compile(r"^schema_guard: ([a-z_]+): ")


def split_statements(text):
    """[(first_line, last_line)] of each SQL statement psql sends, in order."""
    out = []
    i, n, line = 0, len(text), 1
    start = None  # line of the current statement's first token
    depth = 0
    copy_data = False
    at_line_start = True

    def is_copy_from_stdin(first, last):
        body = "\n".join(text.split("\n")[first - 1:last])
        return re.match(r"\s*copy\b.*\bfrom\s+stdin\b", body, re.I | re.S) is not None

    while i < n:
        c = text[i]
        if copy_data:
            end = text.find("\n", i)
            row = text[i:end if end >= 0 else n]
            if row.rstrip("\r") == "\\.":
                copy_data = False
            i = (end + 1) if end >= 0 else n
            line += 1
            continue
        if c == "\n":
            line += 1
            i += 1
            at_line_start = True
            continue
        if c in " \t\r":
            i += 1
            continue
        if c == "\\":  # a meta-command: the rest of the line
            end = text.find("\n", i)
            i = end if end >= 0 else n
            continue
        at_line_start = False
        if text.startswith("--", i):
            end = text.find("\n", i)
            i = end if end >= 0 else n
            continue
        if start is None:
            start = line
        if text.startswith("/*", i):
            level, i = 1, i + 2
            while i < n and level:
                if text.startswith("/*", i):
                    level, i = level + 1, i + 2
                elif text.startswith("*/", i):
                    level, i = level - 1, i + 2
                else:
                    line += text[i] == "\n"
                    i += 1
            continue
        if c in "'\"":
            backslash = c == "'" and i > 0 and text[i - 1] in "eE" and (i < 2 or not (text[i - 2].isalnum() or text[i - 2] == "_"))
            i += 1
            while i < n:
                if backslash and text[i] == "\\":
                    i += 2
                    continue
                if text[i] == c:
                    if i + 1 < n and text[i + 1] == c:
                        i += 2
                        continue
                    i += 1
                    break
                line += text[i] == "\n"
                i += 1
            continue
        m = re.match(r"\$([A-Za-z_][A-Za-z_0-9]*)?\$", text[i:i + 64])
        if m and not (i > 0 and (text[i - 1].isalnum() or text[i - 1] == "_")):
            tag = m.group(0)
            end = text.find(tag, i + len(tag))
            end = n if end < 0 else end + len(tag)
            line += text.count("\n", i, end)
            i = end
            continue
        if c == "(":
            depth += 1
        elif c == ")":
            depth = max(0, depth - 1)
        elif c == ";" and depth == 0:
            out.append((start, line))
            copy_data = is_copy_from_stdin(start, line)
            start = None
        i += 1
    if start is not None:
        out.append((start, line))
    return out


class Case:
    def __init__(self, root):
        self.root = root
        self.statements = {}  # file -> [(first, last)]
        self.annotations = {}  # (file, first) -> {rule: (kind, reason)}

    def load(self, rel):
        if rel in self.statements:
            return
        path = os.path.join(self.root, rel)
        try:
            with open(path, encoding="utf-8") as f:
                text = f.read()
        except OSError:
            self.statements[rel] = []
            return
        stmts = split_statements(text)
        self.statements[rel] = stmts
        for no, row in enumerate(text.split("\n"), 1):
            m = ANNOTATION.search(row)
            if not m:
                continue
            target = next((s for s in stmts if s[0] <= no <= s[1]), None) or next((s for s in stmts if s[0] > no), None)
            if target:
                self.annotations.setdefault((rel, target[0]), {})[m.group(2)] = (m.group(1), m.group(3).strip())

    def by_last_line(self, rel, last):
        self.load(rel)
        hits = [s for s in self.statements[rel] if s[1] == last]
        return hits[-1] if hits else (None, last)

    def containing(self, rel, line):
        """The statement starting on the line, else the one the line is in (a syntax
        error is reported where it is, not where its statement starts)."""
        self.load(rel)
        hits = [s for s in self.statements[rel] if s[0] == line] or \
               [s for s in self.statements[rel] if s[0] <= line <= s[1]]
        return hits[0] if hits else (line, None)


def norm(rel):
    return os.path.normpath(rel)


def main():
    root, hook_file, check_file, out_json = sys.argv[1:5]
    case = Case(root)
    hook, check, notes = set(), set(), []
    with open(hook_file, encoding="utf-8", errors="replace") as f:
        for row in f:
            m = HOOK_LINE.match(row.rstrip("\n"))
            if not m:
                continue
            rel, last, level, msg = norm(m.group(1)), int(m.group(2)), m.group(3), m.group(4)
            if level == "WARNING":
                g = GUARD_MESSAGE.match(msg)
                if not g:
                    continue
                rule = g.group(1)
            else:
                if msg.startswith("current transaction is aborted"):
                    continue  # a consequence of the error before it, not a statement's own
                rule = "error"
            first, _ = case.by_last_line(rel, last)
            hook.add((rel, first if first is not None else -last, rule))
    with open(check_file, encoding="utf-8") as f:
        for row in json.load(f):
            rel, first, rule = norm(row["file"]), int(row["line"]), row["rule"]
            if rule == "not_simulated":
                notes.append("%s:%d" % (rel, first))
                continue
            rule = "error" if rule in ERROR_RULES else rule
            first, _ = case.containing(rel, first)
            check.add((rel, first, rule))
    marked = {"design": set(), "12a": set(), "known": set()}
    stale = []
    for key, anns in case.annotations.items():
        for rule, (kind, reason) in anns.items():
            k = (key[0], key[1], rule)
            if (k in hook) != (k in check):
                marked[kind].add(k)
            else:
                stale.append("%s:%d %s (%s)" % (k[0], k[1], rule, kind))
    all_marked = marked["design"] | marked["12a"] | marked["known"]
    matched = hook & check
    missed = hook - check - all_marked
    extra = check - hook - all_marked
    design, later, known = marked["design"], marked["12a"], marked["known"]
    fmt = lambda s: " ".join("%s:%d:%s" % (k[0], k[1], k[2]) for k in sorted(s)) or "-"
    result = {
        "hook": len(hook), "check": len(check), "matched": len(matched), "missed": len(missed),
        "extra": len(extra), "design": len(design), "later": len(later), "known": len(known), "stale": stale,
        "design_missed": len(design & hook), "later_missed": len(later & hook), "known_missed": len(known & hook),
        "hook_rules": sorted(k[2] for k in hook), "matched_rules": sorted(k[2] for k in matched),
        "design_rules": sorted(k[2] for k in design & hook), "later_rules": sorted(k[2] for k in later & hook),
        "known_rules": sorted(k[2] for k in known & hook),
        "detail": {"hook": fmt(hook), "check": fmt(check), "missed": fmt(missed), "extra": fmt(extra),
                   "design": fmt(design), "12a": fmt(later), "known": fmt(known), "notes": " ".join(notes) or "-"},
    }
    with open(out_json, "w") as f:
        json.dump(result, f)
    # for the TAP line: the verdict, the counts, then the details worth reading
    stale_unmarked = [x for x in stale if not x.endswith("(12a)")]
    print("agree" if not missed and not extra and not stale_unmarked else "differ")
    print("hook %(hook)d check %(check)d matched %(matched)d missed %(missed)d extra %(extra)d "
          "marked: design %(design)d 12a %(later)d known %(known)d" % result)
    for k in ("hook", "check", "missed", "extra", "design", "12a", "known", "notes"):
        d = result["detail"][k]
        if d != "-" and (k in ("missed", "extra", "design", "12a", "known") or missed or extra):
            print("#     %-7s %s" % (k + ":", d))
    for x in stale:
        print("#     annotated but not a mismatch: " + x)


if __name__ == "__main__":
    main()
