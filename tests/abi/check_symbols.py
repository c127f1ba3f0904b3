#!/usr/bin/env python3
"""The version script, the public headers and the library's dynamic symbol
table must name exactly the same functions, all prefixed sslk_; functions
declared inside `#ifdef SSLK_EXPERIMENTAL` sections are exactly those of the
SSLKIT_EXPERIMENTAL node, and no other node holds one."""
import argparse
import pathlib
import re
import subprocess
import sys

ap = argparse.ArgumentParser()
ap.add_argument("--lib", required=True)
ap.add_argument("--map", required=True)
ap.add_argument("--headers", required=True)
a = ap.parse_args()


def declared(text):
    names = set()
    for decl in re.findall(r"SSLK_API\s+([^;{]*?)\(", text):
        m = re.search(r"(\w+)\s*$", decl)
        if m:
            names.add(m.group(1))
    return names


# Headers: every SSLK_API declaration names one function.
hdr, hdr_exp = set(), set()
EXP = re.compile(r"^\s*#\s*ifdef\s+SSLK_EXPERIMENTAL\b(.*?)^\s*#\s*endif", flags=re.S | re.M)
for h in sorted(pathlib.Path(a.headers).glob("*.h")):
    text = re.sub(r"/\*.*?\*/", "", h.read_text(), flags=re.S)
    text = re.sub(r"//[^\n]*", "", text)
    for sect in EXP.findall(text):
        hdr_exp |= declared(re.sub(r"^\s*#.*$", "", sect, flags=re.M))
    text = re.sub(r"^\s*#.*$", "", text, flags=re.M)  # the macro's own definition
    hdr |= declared(text)

mp = pathlib.Path(a.map).read_text()
mp = re.sub(r"/\*.*?\*/", "", mp, flags=re.S)
mapped, mapped_exp = set(), set()
for name, node in re.findall(r"(SSLKIT_[\w.]+)\s*\{\s*global:(.*?)(?:local:|\})", mp, flags=re.S):
    syms = {s.strip() for s in node.split(";") if s.strip()}
    mapped |= syms
    if name == "SSLKIT_EXPERIMENTAL":
        mapped_exp |= syms

out = subprocess.run(["nm", "-D", "--defined-only", a.lib], capture_output=True, text=True, check=True).stdout
exported = set()
for line in out.splitlines():
    parts = line.split()
    if len(parts) >= 3 and parts[1] in "TtDdBbRrWwVvi":
        name = parts[2].split("@")[0]
        if parts[2].startswith("SSLKIT_"):
            continue  # version node marker symbols
        exported.add(name)

ok = True
def report(title, s):
    global ok
    if s:
        ok = False
        print(f"{title}: {', '.join(sorted(s))}")

report("exported but not sslk_", {s for s in exported if not s.startswith("sslk_")})
report("in headers, missing from version script", hdr - mapped)
report("in version script, not declared in headers", mapped - hdr)
report("in headers, not exported", hdr - exported)
report("exported, not in headers", exported - hdr)
report("experimental in headers, not in the SSLKIT_EXPERIMENTAL node", hdr_exp - mapped_exp)
report("in the SSLKIT_EXPERIMENTAL node, not declared experimental", mapped_exp - hdr_exp)
print(f"{len(hdr)} header functions ({len(hdr_exp)} experimental), {len(mapped)} mapped, "
      f"{len(exported)} exported")
sys.exit(0 if ok else 1)
