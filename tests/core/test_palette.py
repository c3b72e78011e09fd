"""Class colours without a class table: land-cover families by name, else distinct qualitative colours."""

import colorsys

from ncglf2.core.io.palette import QUALITATIVE, class_colors


def _hue_family(color):
    h, lightness, s = colorsys.rgb_to_hls(*(c / 255 for c in color))
    if s < 0.15:
        return "grey"
    return "green" if 0.17 < h < 0.45 else "blue" if 0.5 < h < 0.7 else "other"


def test_named_land_cover_classes_get_their_family_colours():
    names = ["Water", "Trees", "Grassland", "Asphalt roads", "Buildings", "DarkRoofs", "LiveOakLeaves", "Sidewalk"]
    colors = class_colors(names)
    families = [_hue_family(c) for c in colors]
    assert families[:4] == ["blue", "green", "green", "grey"]
    assert families[6] == "green"  # oak leaves are trees
    assert families[4] == "grey" and families[7] == "grey"
    assert len(set(colors)) == len(colors)  # two built-up classes get two shades


def test_words_inside_other_words_do_not_count():
    # "office" holds "ice", "season" holds "sea": neither is snow or water.
    assert class_colors(["office", "season"]) == QUALITATIVE[:2]


def test_unnamed_classes_get_qualitative_colours_with_distinct_neighbours():
    colors = class_colors([f"class {i}" for i in range(1, 11)])
    assert colors == QUALITATIVE[:10]
    for a, b in zip(colors, colors[1:]):
        assert sum(abs(x - y) for x, y in zip(a, b)) > 120
