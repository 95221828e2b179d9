#!/usr/bin/env python3
"""The module layers of src/: no module imports one that imports it back, directly or through others.

A module is one file of the library (src/main.rs and src/bin/ are other crates). An import is every
`crate::`, `super::` or `self::` path in a file's code, in `use` lines and inline alike, resolved to the
file that defines what it names: a name that a folder's `mod.rs` only re-exports (`pub use child::X`)
resolves to the child that defines it, so a facade is no import of its own. A folder's `mod` lines and
its own `pub use` of its children are containment, not imports.

Also checked: a file under src/channels/<one>/ never names another channel's folder, and src/hook/
(what every hook shares) names no channel at all.

  python3 tests/layers.py          # prints the layers and exits 1 on a cycle or a crossing
"""
import os
import re
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src")
CHANNELS = ("web", "wechat", "sms", "call")


def modules():
    """Module path (tuple) -> file, for the library crate."""
    found = {}
    for dirpath, _, files in os.walk(ROOT):
        rel = os.path.relpath(dirpath, ROOT)
        parts = () if rel == "." else tuple(rel.split(os.sep))
        if parts and parts[0] == "bin":
            continue
        for name in files:
            if not name.endswith(".rs"):
                continue
            stem = name[:-3]
            if not parts and stem == "main":
                continue
            if not parts and stem == "lib":
                found[()] = os.path.join(dirpath, name)
            elif stem == "mod":
                found[parts] = os.path.join(dirpath, name)
            else:
                found[parts + (stem,)] = os.path.join(dirpath, name)
    return found


def code_of(text):
    """The text without comments and string literals (a path in a doc comment is no import)."""
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    text = re.sub(r'r#*"(?:.|\n)*?"#*', '""', text)
    text = re.sub(r'"(?:\\.|[^"\\])*"', '""', text)
    text = re.sub(r"'(?:\\.|[^'\\])'", "' '", text)
    return "\n".join(line.split("//", 1)[0] for line in text.split("\n"))


def expand(path):
    """`a::{b, c::{d, e}}` -> [`a::b`, `a::c::d`, `a::c::e`]."""
    m = re.match(r"^(.*?)::\{(.*)\}$", path, re.S)
    if not m:
        return [path]
    head, inner = m.group(1), m.group(2)
    items, depth, cur = [], 0, ""
    for ch in inner:
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        if ch == "," and depth == 0:
            items.append(cur)
            cur = ""
        else:
            cur += ch
    items.append(cur)
    out = []
    for item in items:
        item = re.sub(r"\s+as\s+\w+$", "", item.strip())
        if item:
            out.extend(expand(head + "::" + item) if item != "self" else [head])
    return out


def statements(code):
    """(is_pub_use, path, inline_module_depth) for every use statement and inline path."""
    out = []
    # Inline `mod name { ... }` blocks shift what `super` means inside them.
    depth_at = []
    depth, stack = 0, []
    for i, ch in enumerate(code):
        if ch == "{":
            prefix = code[max(0, i - 80):i]
            stack.append(bool(re.search(r"\bmod\s+\w+\s*$", prefix)))
            depth += stack[-1]
        elif ch == "}" and stack:
            depth -= stack.pop()
        depth_at.append(depth)
    for m in re.finditer(r"(?m)^\s*(pub(?:\([^)]*\))?\s+)?use\s+([^;]+);", code):
        path = re.sub(r"\s+", "", m.group(2))
        for p in expand(path):
            out.append((bool(m.group(1)), p, depth_at[m.start()]))
    uses = [(m.start(), m.end()) for m in re.finditer(r"(?m)^\s*(?:pub(?:\([^)]*\))?\s+)?use\s+[^;]+;", code)]
    for m in re.finditer(r"\b(?:crate|super|self)(?:::\w+)+", code):
        if any(a <= m.start() < b for a, b in uses):
            continue
        out.append((False, m.group(0), depth_at[m.start()]))
    return out


def main():
    mods = modules()
    texts = {p: code_of(open(f, encoding="utf-8").read()) for p, f in mods.items()}
    # A facade's re-exports: module -> {name: child module it comes from}.
    facade = {p: {} for p in mods}
    for p, code in texts.items():
        for is_pub, path, depth in statements(code):
            segs = path.split("::")
            if not is_pub or segs[0] in ("crate", "super"):
                continue
            if segs[0] == "self":
                segs = segs[1:]
            if len(segs) >= 2 and p + (segs[0],) in mods:
                facade[p][segs[-1]] = p + (segs[0],)

    def resolve(start, segs):
        cur = start
        i = 0
        while i < len(segs):
            nxt = cur + (segs[i],)
            if nxt in mods:
                cur, i = nxt, i + 1
                continue
            name = segs[i]
            seen = set()
            while name in facade.get(cur, {}) and cur not in seen:
                seen.add(cur)
                cur = facade[cur][name]
            break
        return cur

    edges = {p: set() for p in mods}
    for p, code in texts.items():
        for is_pub, path, depth in statements(code):
            segs = path.split("::")
            if segs[0] == "crate":
                start, rest = (), segs[1:]
            else:
                here = p + ("<inline>",) * depth
                k = 0
                while k < len(segs) and segs[k] in ("super", "self"):
                    if segs[k] == "super":
                        here = here[:-1]
                    k += 1
                start, rest = here, segs[k:]
                while start not in mods and start:
                    start = start[:-1]
            if is_pub and rest and start == p and p + (rest[0],) in mods:
                # A facade re-exporting its own child imports it only if it uses the name itself.
                item = rest[-1]
                body = re.sub(r"(?m)^\s*(?:pub(?:\([^)]*\))?\s+)?use\s+[^;]+;", " ", code)
                if item == "*" or not re.search(r"\b%s\b" % re.escape(item), body):
                    continue
            target = resolve(start, rest)
            if target != p and target in mods:
                edges[p].add(target)

    name = lambda p: "crate" if not p else "::".join(p)
    # Tarjan's strongly connected components.
    index, low, on, st, sccs, counter = {}, {}, set(), [], [], [0]
    sys.setrecursionlimit(10000)

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        st.append(v)
        on.add(v)
        for w in sorted(edges[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = st.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            sccs.append(comp)

    for v in sorted(mods):
        if v not in index:
            visit(v)
    cycles = [sorted(c) for c in sccs if len(c) > 1]

    # Layers: a module's layer is one above the highest module it imports.
    layer = {}

    def depth_of(v, trail=()):
        if v in layer:
            return layer[v]
        if v in trail:
            return 0
        layer[v] = 1 + max([depth_of(w, trail + (v,)) for w in edges[v]] or [-1])
        return layer[v]

    for v in mods:
        depth_of(v)
    crossings = []
    for p in mods:
        for t in edges[p]:
            if p[:1] == ("channels",) and len(p) >= 2 and t[:1] == ("channels",) and len(t) >= 2 and p[1] != t[1]:
                crossings.append(f"{name(p)} -> {name(t)} (another channel)")
            if p[:1] == ("hook",) and t[:1] == ("channels",):
                crossings.append(f"{name(p)} -> {name(t)} (the shared hook layer names a channel)")
        if p[:1] == ("hook",) and re.search(r'"/hooks/(?:%s)\b' % "|".join(CHANNELS), texts[p]):
            crossings.append(f"{name(p)} names a channel's route")

    print(f"layers of src/: {len(mods)} modules, {sum(len(e) for e in edges.values())} imports")
    for lv in range(max(layer.values()) + 1):
        members = sorted(name(p) for p in mods if layer[p] == lv)
        if members:
            print(f"  layer {lv}: {', '.join(members)}")
    for c in cycles:
        print("CYCLE: " + " <-> ".join(name(p) for p in c))
        for p in c:
            inside = sorted(name(t) for t in edges[p] if t in c)
            print(f"    {name(p)} imports {', '.join(inside)}")
    for c in crossings:
        print("CROSSING: " + c)
    if cycles or crossings:
        print(f"layers: {len(cycles)} cycle(s), {len(crossings)} crossing(s)")
        return 1
    print("layers: no cycles, no module knows two channels")
    return 0


if __name__ == "__main__":
    sys.exit(main())
