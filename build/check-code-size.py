#!/usr/bin/env python3
"""Reports C# files and members that are over the size limits of issue 9.

Usage: build/check-code-size.py [--strict] [PATH ...]

PATH defaults to the repository's src/ folder; bin/ and obj/ are skipped. One line per finding:

    path: N lines (limit 400)
    path:line: method NAME spans N lines (limit 80)

A member's span counts the lines from its opening brace to its closing brace (for an
expression-bodied member, from `=>` to the closing `;`); line is where its name stands. Exit code is
0, or 1 with --strict when there are findings, so CI can choose to enforce it.

C# is measured with a heuristic, not a parser: strings (regular, verbatim, interpolated, raw), char
literals and comments are blanked first so that braces inside them do not count; a block is a member
body when the text before it (back to the previous ';', '{' or '}') reads as a signature that ends in
a parameter list: not a control statement (if, for, using, ...), not a type declaration (a record's
primary constructor), not an expression (no '=' or '=>' outside the parentheses).
"""

import os
import re
import sys

FILE_LIMIT = 400
METHOD_LIMIT = 80

CONTROL = {
    "if", "else", "for", "foreach", "while", "do", "switch", "using", "lock", "catch", "fixed",
    "try", "finally", "checked", "unchecked", "unsafe", "return", "yield", "await", "throw",
    "case", "when", "new", "var", "in", "is", "not",
}
TYPE_WORDS = {"class", "struct", "record", "interface", "enum", "namespace", "delegate"}
IDENT = re.compile(r"[A-Za-z_@][A-Za-z0-9_]*")


def mask(text):
    """Returns text with the insides of comments, strings and char literals replaced by spaces.

    Newlines are kept so that offsets and line numbers stay the same as in the original.
    """
    out = list(text)
    n = len(text)

    def blank(a, b):
        for k in range(a, min(b, n)):
            if out[k] != "\n":
                out[k] = " "

    def skip_string(i):
        """i is at the string's first prefix char ($, @) or quote; returns the index after it."""
        j = i
        dollars = 0
        verbatim = False
        while j < n and text[j] in "$@":
            if text[j] == "$":
                dollars += 1
            else:
                verbatim = True
            j += 1
        # Raw string: three or more quotes; it ends at the same number of quotes.
        q = j
        while q < n and text[q] == '"':
            q += 1
        quotes = q - j
        if quotes >= 3:
            end = text.find('"' * quotes, q)
            return n if end < 0 else end + quotes
        j += 1  # the opening quote
        while j < n:
            c = text[j]
            if verbatim:
                if c == '"':
                    if j + 1 < n and text[j + 1] == '"':
                        j += 2
                        continue
                    return j + 1
            else:
                if c == "\\":
                    j += 2
                    continue
                if c == '"':
                    return j + 1
                if c == "\n":  # an unterminated regular string; stop at the line end
                    return j
            if dollars and c == "{":
                if j + 1 < n and text[j + 1] == "{":
                    j += 2
                    continue
                j = skip_hole(j + 1)
                continue
            j += 1
        return n

    def skip_hole(j):
        """j is just inside an interpolation hole; returns the index after its closing brace."""
        depth = 0
        while j < n:
            c = text[j]
            if c == '"' or (c in "$@" and j + 1 < n and text[j + 1] in '"$@'):
                j = skip_string(j)
                continue
            if c == "'":
                j = skip_char(j)
                continue
            if c in "([{":
                depth += 1
            elif c in ")]":
                depth -= 1
            elif c == "}":
                if depth == 0:
                    return j + 1
                depth -= 1
            j += 1
        return n

    def skip_char(i):
        j = i + 1
        while j < n and text[j] != "'" and text[j] != "\n":
            j += 2 if text[j] == "\\" else 1
        return j + 1

    i = 0
    line_start = True
    while i < n:
        c = text[i]
        if c == "\n":
            line_start = True
            i += 1
            continue
        if line_start and c == "#":  # preprocessor directive: the whole line
            end = text.find("\n", i)
            end = n if end < 0 else end
            blank(i, end)
            i = end
            continue
        if not c.isspace():
            line_start = False
        if text.startswith("//", i):
            end = text.find("\n", i)
            end = n if end < 0 else end
            blank(i, end)
            i = end
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            end = n if end < 0 else end + 2
            blank(i, end)
            i = end
        elif c == '"' or (c in "$@" and i + 1 < n and text[i + 1] in '"$@'
                          and not (c == "@" and text[i + 1] == "@")):
            end = skip_string(i)
            blank(i, end)
            i = end
        elif c == "'":
            end = skip_char(i)
            blank(i, end)
            i = end
        else:
            i += 1
    return "".join(out)


def header_before(code, pos):
    """The text between the previous ';', '{' or '}' at the same nesting depth and pos.

    Returns None when an unmatched '(' or '[' stands in the way: the block or arrow is then an
    argument (a lambda passed to a call), not a member.
    """
    depth = 0
    j = pos - 1
    while j >= 0:
        c = code[j]
        if c in ")]":
            depth += 1
        elif c in "([":
            if depth == 0:
                return None
            depth -= 1
        elif c in ";{}" and depth == 0:
            break
        j -= 1
    return j + 1


def top_level(s):
    """s with everything inside (), [] and <> (generic brackets) blanked."""
    out = []
    depth = 0
    for c in s:
        if c in "([":
            depth += 1
            out.append(" ")
        elif c in ")]":
            depth -= 1
            out.append(" ")
        else:
            out.append(c if depth == 0 else " ")
    return "".join(out)


def member_name(header):
    """The member's name when header reads as a method, constructor or local function signature."""
    h = header.strip()
    # Attributes in front of the member.
    while h.startswith("["):
        depth = 0
        for k, c in enumerate(h):
            depth += c == "["
            depth -= c == "]"
            if depth == 0:
                h = h[k + 1:].strip()
                break
        else:
            return None
    if not h.endswith(")"):
        # Generic constraints come after the parameter list.
        m = re.search(r"\)\s*where\s+[^()]*$", h)
        if not m:
            return None
        h = h[: m.start() + 1]
    flat = top_level(h)
    if "=" in flat:
        return None  # an expression (an assignment or a lambda), not a signature
    words = IDENT.findall(flat)
    if not words or words[0] in CONTROL or TYPE_WORDS & set(words):
        return None
    # Constructor initializer: strip ": base(...)" / ": this(...)".
    m = re.search(r":\s*(base|this)\s*\($", flat[: flat.rfind(")")].rstrip() + "(")
    close = len(h) - 1
    if m:
        close = m.start()
        close = h.rstrip()[:close].rstrip()
        if not close.endswith(")"):
            return None
        h = close
        close = len(h) - 1
    # Find the '(' that matches the final ')'.
    depth = 0
    k = close
    while k >= 0:
        if h[k] == ")":
            depth += 1
        elif h[k] == "(":
            depth -= 1
            if depth == 0:
                break
        k -= 1
    if k < 0:
        return None
    before = h[:k].rstrip()
    if before.endswith(">"):  # generic method: Name<T>(...)
        depth = 0
        g = len(before) - 1
        while g >= 0:
            depth += before[g] == ">"
            depth -= before[g] == "<"
            if depth == 0:
                break
            g -= 1
        before = before[:g].rstrip()
    m = re.search(r"(operator\s*\S+|[A-Za-z_@][A-Za-z0-9_]*)$", before)
    if not m:
        return None
    name = m.group(1)
    rest = before[: m.start()].strip()
    if name in CONTROL or not rest:
        return None  # a call or a pattern, with no return type or modifiers before it
    if rest.endswith(".") and not re.search(r"\s", rest):
        return None  # a qualified call such as Foo.Bar(x)
    return name


def line_of(code, pos, starts):
    lo, hi = 0, len(starts) - 1
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if starts[mid] <= pos:
            lo = mid
        else:
            hi = mid - 1
    return lo + 1


def check_file(path, text):
    findings = []
    lines = text.count("\n") + (0 if text.endswith("\n") or not text else 1)
    if lines > FILE_LIMIT:
        findings.append((0, f"{path}: {lines} lines (limit {FILE_LIMIT})"))
    code = mask(text)
    starts = [0] + [m.end() for m in re.finditer("\n", code)]

    def report(head_start, body_from, body_to):
        header = code[head_start:body_from]
        name = member_name(header)
        if name is None:
            return
        span = line_of(code, body_to, starts) - line_of(code, body_from, starts) + 1
        if span > METHOD_LIMIT:
            # The line where the name stands (its last occurrence before the parameter list).
            at = re.search(re.escape(name) + r"\s*[<(]", header)
            line = line_of(code, head_start + (at.start() if at else len(header) - len(header.lstrip())), starts)
            findings.append((line, f"{path}:{line}: method {name} spans {span} lines (limit {METHOD_LIMIT})"))

    # Block bodies: match braces.
    stack = []
    for m in re.finditer(r"[{}]", code):
        if m.group() == "{":
            stack.append(m.start())
        elif stack:
            open_pos = stack.pop()
            head = header_before(code, open_pos)
            if head is not None:
                report(head, open_pos, m.start())

    # Expression bodies: `signature => expression;`.
    for m in re.finditer(r"=>", code):
        head = header_before(code, m.start())
        if head is None or member_name(code[head: m.start()]) is None:
            continue
        depth = 0
        j = m.end()
        while j < len(code):
            c = code[j]
            if c in "([{":
                depth += 1
            elif c in ")]}":
                depth -= 1
                if depth < 0:
                    break
            elif c == ";" and depth == 0:
                break
            j += 1
        report(head, m.start(), j)
    findings.sort()
    return [f for _, f in findings]


def main(argv):
    strict = "--strict" in argv
    paths = [a for a in argv if a != "--strict"]
    if any(a.startswith("-") for a in paths):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    if not paths:
        paths = [os.path.join(repo, "src")]
    files = []
    for p in paths:
        if os.path.isfile(p):
            files.append(p)
            continue
        for root, dirs, names in os.walk(p):
            dirs[:] = sorted(d for d in dirs if d not in ("bin", "obj"))
            files += [os.path.join(root, f) for f in sorted(names) if f.endswith(".cs")]
    findings = []
    for f in files:
        with open(f, encoding="utf-8-sig") as fh:
            text = fh.read()
        shown = os.path.relpath(f, repo) if os.path.abspath(f).startswith(repo + os.sep) else f
        findings += check_file(shown, text)
    for line in findings:
        print(line)
    return 1 if strict and findings else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
