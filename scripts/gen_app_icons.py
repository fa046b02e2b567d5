#!/usr/bin/env python3
"""Writes the icons the package installs into the hicolor theme, from
icons/icon.png and the tray icons' design (scripts/gen_tray_icons.py):

- icons/hicolor/NxN/apps/evergreen.png at the sizes launchers ask for;
- icons/hicolor/scalable/apps/evergreen.svg, the same tree as a vector;
- icons/hicolor/symbolic/apps/evergreen-symbolic.svg and one
  evergreen-STATE-symbolic.svg per tray state (healthy, attention, failing,
  stopped): one-colour outlines that panels recolour to their theme, each
  state with its own badge shape, as on the colour tray icons.

Needs Pillow (pip install pillow); the icons are committed, so only a change
of design runs this.
"""
import pathlib

from PIL import Image

ROOT = pathlib.Path(__file__).resolve().parent.parent / "icons"
HICOLOR = ROOT / "hicolor"
SIZES = [16, 22, 24, 32, 48, 64, 128, 256]

source = Image.open(ROOT / "icon.png").convert("RGBA")
for n in SIZES:
    out = HICOLOR / f"{n}x{n}" / "apps" / "evergreen.png"
    out.parent.mkdir(parents=True, exist_ok=True)
    source.resize((n, n), Image.LANCZOS).save(out, optimize=True)
    print(out.relative_to(ROOT.parent))

TREE = "M128 30 L190 110 L160 110 L210 175 L143 175 L143 225 L113 225 L113 175 L46 175 L96 110 L66 110 Z"
scalable = HICOLOR / "scalable" / "apps" / "evergreen.svg"
scalable.parent.mkdir(parents=True, exist_ok=True)
scalable.write_text(
    '<svg xmlns="http://www.w3.org/2000/svg" width="256" height="256" viewBox="0 0 256 256">\n'
    '  <rect x="8" y="8" width="240" height="240" rx="44" fill="#2e7d32"/>\n'
    f'  <path d="{TREE}" fill="#ffffff"/>\n'
    "</svg>\n"
)
print(scalable.relative_to(ROOT.parent))

# Symbolic: 16x16, one colour; the tree upper left, the badge lower right
# with its shape cut out of the tree so it reads at panel size.
SMALL_TREE = "M6 0.5 L9.5 5 L8 5 L10.5 8.5 L7 8.5 L7 11 L5 11 L5 8.5 L1.5 8.5 L4 5 L2.5 5 Z"
BADGES = {
    "healthy": (
        '<circle cx="11.5" cy="11.5" r="4.5"',
        '<path d="M9.3 11.6 L11 13.3 L13.8 10.2"/>',
    ),
    "attention": (
        '<path d="M11.5 6.5 L16 15.5 L7 15.5 Z"',
        '<path d="M11.5 9.5 V12.6 M11.5 13.6 V14.4"/>',
    ),
    "failing": (
        '<path d="M9.6 7 H13.4 L16 9.6 V13.4 L13.4 16 H9.6 L7 13.4 V9.6 Z"',
        '<path d="M9.8 9.8 L13.2 13.2 M13.2 9.8 L9.8 13.2"/>',
    ),
    "stopped": (
        '<rect x="7" y="7" width="9" height="9" rx="1.5"',
        '<path d="M10.2 9.5 V13.5 M12.8 9.5 V13.5"/>',
    ),
}


def symbolic(name, badge):
    out = HICOLOR / "symbolic" / "apps" / f"{name}-symbolic.svg"
    out.parent.mkdir(parents=True, exist_ok=True)
    if badge is None:
        body = f'  <path d="{SMALL_TREE}"/>\n'
    else:
        shape, mark = badge
        # A gap around the badge is cut out of the tree (a mask), the mark
        # out of the badge (drawn in the mask's black, it shows the panel).
        body = (
            '  <defs>\n'
            '    <mask id="gap"><rect width="16" height="16" fill="#fff"/>'
            f'{shape} fill="#000" stroke="#000" stroke-width="2.4"/></mask>\n'
            '    <mask id="mark"><rect width="16" height="16" fill="#fff"/>'
            f'<g fill="none" stroke="#000" stroke-width="1.4" stroke-linecap="round" stroke-linejoin="round">{mark}</g></mask>\n'
            '  </defs>\n'
            f'  <path d="{SMALL_TREE}" mask="url(#gap)"/>\n'
            f'  {shape} mask="url(#mark)"/>\n'
        )
    out.write_text(
        '<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 16 16" fill="#474747">\n'
        + body
        + "</svg>\n"
    )
    print(out.relative_to(ROOT.parent))


symbolic("evergreen", None)
for state, badge in BADGES.items():
    symbolic(f"evergreen-{state}", badge)
