"""Class colours a land-cover map reader expects: vegetation green, water blue, built-up grey.

Used where no class table gives colours. Names that say what a class is get a
shade of their family (the n-th tree class a darker green than the first);
other classes get a qualitative palette whose neighbours differ clearly.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

Color = tuple[int, ...]  # (r, g, b), 0-255

# Qualitative colours in an order where neighbours differ in hue and lightness.
QUALITATIVE: list[Color] = [
    (31, 119, 180),
    (255, 127, 14),
    (44, 160, 44),
    (214, 39, 40),
    (148, 103, 189),
    (140, 86, 75),
    (227, 119, 194),
    (127, 127, 127),
    (188, 189, 34),
    (23, 190, 207),
    (255, 221, 0),
    (0, 92, 49),
    (153, 0, 0),
    (0, 0, 128),
    (255, 153, 204),
    (102, 255, 178),
    (128, 128, 0),
    (204, 153, 255),
    (255, 204, 153),
    (0, 0, 0),
]

# (words that name the family, its shades from the first class to the later ones). First match wins.
FAMILIES: list[tuple[tuple[str, ...], list[Color]]] = [
    (
        ("water", "river", "lake", "sea", "ocean", "pond", "stream", "canal", "reservoir", "lagoon", "pool"),
        [(31, 120, 180), (103, 169, 207), (8, 69, 148), (158, 202, 225)],
    ),
    (("wetland", "marsh", "swamp", "mangrove", "bog"), [(65, 171, 160), (1, 108, 89)]),
    (
        ("tree", "forest", "wood", "oak", "pine", "conifer", "deciduous", "canopy", "orchard", "palm"),
        [(26, 120, 52), (0, 68, 27), (65, 150, 80), (35, 95, 60)],
    ),
    (
        (
            "grass",
            "meadow",
            "lawn",
            "pasture",
            "vegetation",
            "shrub",
            "bush",
            "hedge",
            "crop",
            "field",
            "vineyard",
            "herb",
            "plant",
            "leaf",
            "leaves",
            "green",
        ),
        [(120, 198, 84), (173, 221, 142), (166, 189, 44), (77, 175, 74)],
    ),
    (("sand", "beach", "dune"), [(238, 214, 160), (222, 196, 132)]),
    (
        ("soil", "dirt", "bare", "earth", "mud", "clay", "gravel", "rock", "stone"),
        [(166, 118, 72), (191, 150, 110), (120, 85, 55)],
    ),
    (
        ("road", "asphalt", "street", "highway", "parking", "pavement", "railway", "rail"),
        [(64, 64, 64), (110, 110, 110), (40, 40, 48)],
    ),
    (
        (
            "building",
            "roof",
            "house",
            "residential",
            "commercial",
            "industrial",
            "urban",
            "built",
            "concrete",
            "sidewalk",
            "impervious",
            "cement",
            "structure",
        ),
        [(150, 150, 150), (190, 190, 190), (120, 120, 130), (220, 220, 220), (200, 80, 70)],
    ),
    (("shadow",), [(20, 20, 30)]),
    (("snow", "ice", "cloud"), [(245, 245, 250)]),
]


def _matches(word: str, key: str) -> bool:
    # "trees", "grassland" and "rooftops" match; "season" is no "sea", "office" no "ice".
    return word == key or word.rstrip("s") == key or (len(key) >= 4 and word.startswith(key))


def _family(name: str) -> int | None:
    words = [w.lower() for w in re.findall(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])", name)]  # "DarkRoofs" -> dark, roofs
    for index, (keys, _) in enumerate(FAMILIES):
        if any(_matches(word, key) for word in words for key in keys):
            return index
    return None


def class_colors(names: Sequence[str]) -> list[Color]:
    """One colour per class name: its family's next shade, or the qualitative colour of its position."""
    used: dict[int, int] = {}
    colors = []
    for position, name in enumerate(names):
        family = _family(name)
        if family is None:
            colors.append(QUALITATIVE[position % len(QUALITATIVE)])
            continue
        shades = FAMILIES[family][1]
        colors.append(shades[used.get(family, 0) % len(shades)])
        used[family] = used.get(family, 0) + 1
    return colors
