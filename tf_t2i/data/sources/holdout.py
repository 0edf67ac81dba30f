"""Which colour x kind combinations a source keeps out of its train split (zero-shot).

Reed et al. evaluate on classes never seen in training. For a grid of colours x
kinds, holding out some combinations still teaches every colour and every
kind, so a model that composes them can draw the unseen pairs.
"""

from __future__ import annotations

from collections.abc import Sequence

from tf_t2i.errors import T2IError


def diagonal_order(colors: Sequence[str], kinds: Sequence[str]) -> list[str]:
    """All "colour kind" names, diagonal by diagonal: (colour c, kind (c + d) % K)
    for d = 0, 1, ...; the first len(colors) names take each colour once and each
    kind at most ceil(C / K) times."""
    return [
        f"{color} {kinds[(c + d) % len(kinds)]}"
        for d in range(len(kinds))
        for c, color in enumerate(colors)
    ]


def held_out_classes(
    colors: Sequence[str],
    kinds: Sequence[str],
    count: int = 0,
    names: str | Sequence[str] | None = None,
) -> list[str]:
    """The held-out "colour kind" class names, checked to leave every colour and kind seen.

    Args:
        colors: the colour names.
        kinds: the kind names.
        count: hold out the first `count` of `diagonal_order` (deterministic,
            whatever the data set's seed).
        names: or these names, as a list or one comma-separated string.

    Returns:
        The names in a fixed order ([] when neither is given).

    Raises:
        T2IError: both given, an unknown name, or a colour or kind held out entirely.
    """
    if isinstance(names, str):
        names = [n.strip() for n in names.split(",") if n.strip()]
    names = list(names or [])
    if count and names:
        raise T2IError("shapes: give holdout (a number) or holdout_classes (names), not both")
    order = diagonal_order(colors, kinds)
    if not isinstance(count, int) or count < 0:
        raise T2IError(f"shapes: holdout must be a whole number >= 0, got {count!r}")
    if names:
        unknown = [n for n in names if n not in order]
        if unknown:
            raise T2IError(
                f"shapes: holdout_classes: {', '.join(map(repr, unknown))} are not classes; "
                f"classes are 'colour kind', e.g. {order[0]!r}"
            )
        chosen = [n for n in order if n in set(names)]
    else:
        chosen = order[:count]
    pairs = [n.split(" ", 1) for n in chosen]
    for group, values, index in (("colour", colors, 0), ("kind", kinds, 1)):
        unseen = [
            v
            for v in values
            if sum(p[index] == v for p in pairs) == (len(kinds) if index == 0 else len(colors))
        ]
        if unseen:
            raise T2IError(
                f"shapes: holding out {len(chosen)} combinations leaves no training image of "
                f"the {group}(s) {', '.join(unseen)}; hold out fewer"
            )
    return chosen
