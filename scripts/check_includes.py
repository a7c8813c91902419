#!/usr/bin/python3
"""Checks the include structure of the library, the CLI and the Python bindings.

    check_includes.py [ROOT]      # ROOT: the repository (default: this script's parent's parent)
    check_includes.py --self-test # the check finds each kind of problem in a tree made for it

Reads every `#include "..."` line of src/, apps/ and python/src/ and fails
(exit 1, one line per problem) on:

  (a) a cycle between units: a unit is x.hpp and x.cpp of one folder taken as
      one node, so x.cpp including y.hpp and y.cpp including x.hpp is a loop
      even though no header includes itself;
  (b) a cycle between folders;
  (c) an include that goes up the layering of DESIGN.md:
          core -> data, linalg, nn -> train -> io -> experiment -> apps, python
      a folder includes its own layer or the ones before it, never a later
      one; within the second layer linalg stays free of nn (DESIGN.md), and
      (b) keeps the other edges of that layer one way.

An include that names no file of the tree is reported too, so that a renamed
header cannot silently drop out of the check.
"""
import pathlib
import re
import sys

# Folders in layer order; a folder may include folders of its own layer or an earlier one.
LAYERS = [["core"], ["data", "linalg", "nn"], ["train"], ["io"], ["experiment"], ["apps", "python"]]
# Edges inside a layer that DESIGN.md rules out.
FORBIDDEN = {("linalg", "nn"): "linalg is free of nn (DESIGN.md)"}
# Where the code is, and the folder name each tree counts as.
TREES = {"src": None, "apps": "apps", "python/src": "python"}
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')
SOURCES = (".hpp", ".cpp", ".h", ".cc")


def layer_of(folder):
    for rank, layer in enumerate(LAYERS):
        if folder in layer:
            return rank
    return None


def source_files(root):
    """(path, folder) for every source file of the checked trees."""
    for tree, folder in TREES.items():
        base = root / tree
        for path in sorted(base.rglob("*")):
            if path.suffix in SOURCES:
                yield path, folder or path.relative_to(base).parts[0]


def resolve(root, path, name):
    """The file `#include "name"` in `path` means: next to it, else below src/ or the root."""
    for base in (path.parent, root / "src", root):
        candidate = (base / name).resolve()
        if candidate.is_file():
            return candidate
    return None


def unit_of(root, path, folders):
    """A unit is a folder plus a file stem: x.hpp and x.cpp are one node."""
    return f"{folders[path]}/{path.stem}" if path in folders else str(path.relative_to(root))


def strongly_connected(graph):
    """Tarjan's components of more than one node, each sorted."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(10000)
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def describe_cycle(component, edges):
    """One include per edge of the component, so the reader sees which lines close the loop."""
    members = set(component)
    lines = []
    for (a, b), where in sorted(edges.items()):
        if a in members and b in members:
            lines.append(f"    {a} -> {b}   ({where})")
    return "\n".join(lines)


def check(root):
    files = dict(source_files(root))
    problems = []
    unit_edges, folder_edges = {}, {}
    for path, folder in files.items():
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            match = INCLUDE.match(line)
            if not match:
                continue
            where = f"{path.relative_to(root)}:{number}"
            target = resolve(root, path, match.group(1))
            if target is None:
                problems.append(f"{where}: #include \"{match.group(1)}\" names no file of the tree")
                continue
            if target not in files:
                continue  # a file outside the checked trees (none today)
            to_folder = files[target]
            a, b = unit_of(root, path, files), unit_of(root, target, files)
            if a != b:
                unit_edges.setdefault((a, b), where)
            if folder != to_folder:
                folder_edges.setdefault((folder, to_folder), where)
                rank, to_rank = layer_of(folder), layer_of(to_folder)
                if rank is None or to_rank is None:
                    unknown = folder if rank is None else to_folder
                    problems.append(f"{where}: folder '{unknown}' has no place in the layering")
                elif to_rank > rank:
                    problems.append(f"{where}: {folder} includes {to_folder}, a later layer")
                elif (folder, to_folder) in FORBIDDEN:
                    problems.append(f"{where}: {folder} includes {to_folder}: {FORBIDDEN[(folder, to_folder)]}")

    for kind, edges in (("units", unit_edges), ("folders", folder_edges)):
        graph = {}
        for a, b in edges:
            graph.setdefault(a, set()).add(b)
        for component in strongly_connected(graph):
            problems.append(f"include cycle between {kind} {', '.join(component)}:\n" +
                            describe_cycle(component, edges))
    return problems, len(files)


def self_test():
    """The check reports each kind of problem in a small tree made for it (so it can fail)."""
    import tempfile
    files = {
        "src/core/a.hpp": '#include "train/t.hpp"\n',            # (c) up the layering, and (b) core <-> train
        "src/train/t.hpp": '#include "core/a.hpp"\n',
        "src/train/x.hpp": "",
        "src/train/x.cpp": '#include "train/x.hpp"\n#include "train/y.hpp"\n',  # (a) x.cpp -> y.hpp -> x unit
        "src/train/y.hpp": '#include "train/x.hpp"\n',
        "src/linalg/l.cpp": '#include "nn/n.hpp"\n#include "core/gone.hpp"\n',   # linalg -> nn; unknown file
        "src/nn/n.hpp": "",
    }
    expected = ["core includes train, a later layer", "include cycle between units train/x, train/y",
                "include cycle between folders core, train", "linalg includes nn", "names no file"]
    with tempfile.TemporaryDirectory() as tmp:
        root = pathlib.Path(tmp).resolve()
        for name, text in files.items():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            (root / name).write_text(text)
        report = "\n".join(check(root)[0])
    missed = [e for e in expected if e not in report]
    for e in missed:
        print(f"check_includes self-test: not reported: {e}\n{report}")
    return 1 if missed else 0


def main(argv):
    if argv[1:] == ["--self-test"]:
        return self_test()
    root = pathlib.Path(argv[1]).resolve() if len(argv) > 1 else pathlib.Path(__file__).resolve().parent.parent
    problems, count = check(root)
    for p in problems:
        print(p)
    if problems:
        print(f"check_includes: {len(problems)} problem(s) in {count} files")
        return 1
    print(f"check_includes: {count} files, no include cycle, nothing included from a later layer")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
