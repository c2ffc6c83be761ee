#!/usr/bin/env python3
"""Import circles of a crate: scripts/use-graph.py CRATE/src [--self-test]

Reads the module graph of a crate's src/ (bin/ left out): every `crate::` and `super::`
path in a file (use lines and inline paths; comments skipped) is an edge to the longest
module that exists. Prints the circles (strongly connected components of more than one
module) at two levels: top-level modules (crate::core, crate::transport, ...) and files.
At the file level an edge between a module and its own ancestor or descendant (a parent
using its child, a child using its parent's items) is left out, since Rust's module tree
makes those unavoidable; a circle through such an edge shows at the top level.
Exits 1 when there is a circle. --self-test plants `use crate::socket::Socket;` in a copy
of sp-net/src/transport/inproc.rs and checks that the circle is found."""
import os, re, shutil, subprocess, sys, tempfile

if '--self-test' in sys.argv:
    here = os.path.dirname(os.path.abspath(__file__))
    crate = os.path.join(here, '..', 'sp-net', 'src')
    with tempfile.TemporaryDirectory() as tmp:
        copy = os.path.join(tmp, 'src')
        shutil.copytree(crate, copy)
        clean = subprocess.run([sys.executable, __file__, copy], capture_output=True, text=True)
        victim = os.path.join(copy, 'transport', 'inproc.rs')
        with open(victim) as f:
            text = f.read()
        with open(victim, 'w') as f:
            f.write('use crate::socket::Socket;\n' + text)
        planted = subprocess.run([sys.executable, __file__, copy], capture_output=True, text=True)
    assert clean.returncode == 0, clean.stdout
    assert planted.returncode == 1 and 'crate::socket' in planted.stdout, planted.stdout
    print('self-test: the planted circle is found, the tree itself has none')
    sys.exit(0)

src = sys.argv[1]
mods = {}
for root, _, files in os.walk(src):
    if os.path.relpath(root, src).split(os.sep)[0] == 'bin':
        continue
    for f in files:
        if not f.endswith('.rs'):
            continue
        rel = os.path.relpath(os.path.join(root, f), src)[:-3].split(os.sep)
        if rel[-1] in ('mod', 'lib', 'main'):
            rel = rel[:-1]
        mods[tuple(rel)] = os.path.join(root, f)
# Inline `mod x { ... }` (test modules) count as part of their file.
def resolve(path):
    for n in range(len(path), -1, -1):
        if tuple(path[:n]) in mods:
            return tuple(path[:n])
    return ()
edges = set()
pat = re.compile(r'\b(crate|super)((?:::\w+)+)')
grouped = re.compile(r'\buse\s+(crate|super)((?:::\w+)*)::\{([^;]*)\}', re.S)
for m, fn in mods.items():
    text = open(fn).read()
    text = re.sub(r'//[^\n]*', '', text)
    targets = []
    for base, rest in pat.findall(text):
        parts = rest.split('::')[1:]
        targets.append((base, parts))
    for base, rest, inner in grouped.findall(text):
        prefix = rest.split('::')[1:] if rest else []
        for item in re.split(r',', re.sub(r'\{[^}]*\}', '', inner)):
            item = item.strip().split(' as ')[0]
            if item and item != 'self':
                targets.append((base, prefix + item.split('::')))
    for base, parts in targets:
        if base == 'crate':
            full = parts
        else:
            here = list(m) if not mods[m].endswith(('mod.rs', 'lib.rs')) else list(m) + ['_']
            full = here[:-2] + parts if len(here) >= 2 else parts
        t = resolve(full)
        if t != m:
            edges.add((m, t))
def sccs(nodes, edges):
    adj = {n: [] for n in nodes}
    for a, b in edges:
        adj.setdefault(a, []).append(b)
        adj.setdefault(b, [])
    index, low, stack, on, out, i = {}, {}, [], set(), [], [0]
    def visit(v):
        index[v] = low[v] = i[0]; i[0] += 1; stack.append(v); on.add(v)
        for w in adj[v]:
            if w not in index:
                visit(w); low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop(); on.discard(w); comp.append(w)
                if w == v: break
            out.append(comp)
    sys.setrecursionlimit(10000)
    for v in list(adj):
        if v not in index:
            visit(v)
    return [c for c in out if len(c) > 1]
name = lambda m: 'crate::' + '::'.join(m) if m else 'crate'
top = {(a[:1], b[:1]) for a, b in edges if a[:1] != b[:1] and a and b}
file_edges = {(a, b) for a, b in edges if not (a[:len(b)] == b or b[:len(a)] == a)}
print(f'{len(mods)} modules, {len(edges)} edges ({len(file_edges)} between modules that are not ancestor/descendant)')
found = 0
for label, es in [('top-level modules', top), ('files (ancestor/descendant edges left out)', file_edges)]:
    cs = sccs({m[:1] if label.startswith('top') else m for m in mods}, es)
    found += len(cs)
    print(f'{label}: {len(cs)} circle(s)')
    for c in cs:
        print('   ', ' <-> '.join(sorted(name(m) for m in c)))
        for a, b in sorted(es):
            if a in c and b in c:
                print('       ', name(a), '->', name(b))
sys.exit(1 if found else 0)
