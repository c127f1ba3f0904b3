#!/usr/bin/env python3
"""The core library's run-time dependencies: `ldd libsslkit.so` must list no
picture stack (cairo, X11/xcb, fontconfig, freetype, pixman), which lives
in the plotting module alone; the module, when built, must carry cairo and
export exactly its entry point.  libpng is allowed in the core since 1.2: it
decodes the PNGs of image folders, as libjpeg-turbo decodes their JPEGs."""
import subprocess
import sys

FORBIDDEN = ("cairo", "libX", "xcb", "fontconfig", "freetype", "pixman")


def ldd(path):
    out = subprocess.run(["ldd", path], capture_output=True, text=True, check=True).stdout
    return [line.split()[0] for line in out.splitlines() if line.strip()]


def main():
    core, module = sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else None
    libs = ldd(core)
    bad = [name for name in libs if any(f in name for f in FORBIDDEN)]
    if bad:
        sys.exit(f"{core} depends on picture libraries: {bad}")
    if not any("blis" in name for name in libs):
        sys.exit(f"{core}: ldd shows no BLIS, is this the right file? {libs}")
    if module:
        if not any("cairo" in name for name in ldd(module)):
            sys.exit(f"{module} does not link cairo")
        syms = subprocess.run(["nm", "-D", "--defined-only", module], capture_output=True, text=True,
                              check=True).stdout.split()
        exported = sorted(s for s in syms if s.startswith("ss"))
        if exported != ["ssli_plot_module_v1"]:
            sys.exit(f"{module} exports {exported}, expected only ssli_plot_module_v1")
    print(f"ok: {len(libs)} libraries, none of {FORBIDDEN}")


if __name__ == "__main__":
    main()
