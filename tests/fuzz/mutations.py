"""Damage real input the way files get damaged: cut short, bytes flipped, inserted, deleted."""

from __future__ import annotations

from hypothesis import strategies as st


def damage(draw: st.DrawFn, data: bytes, inserts: st.SearchStrategy[bytes], span: int) -> bytes:
    """One to four random cuts, flips, insertions (from ``inserts``) or deletions of up to ``span``."""
    out = bytearray(data)
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        at = draw(st.integers(min_value=0, max_value=len(out)))
        how = draw(st.sampled_from(["cut", "flip", "insert", "delete"]))
        if how == "cut":
            del out[at:]
        elif how == "flip" and at < len(out):
            out[at] = draw(st.integers(min_value=0, max_value=255))
        elif how == "insert":
            out[at:at] = draw(inserts)
        else:
            del out[at : at + draw(st.integers(min_value=1, max_value=span))]
    return bytes(out)
