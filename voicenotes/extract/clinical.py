"""Clinical readings that span items of one reply (run after the rules' discourse logic).

- A denial hedged in the same breath ("Not today. I can't promise about tonight.") is not a firm
  pertinent negative: the denial stays (it is what was said about today) but becomes uncertain
  (certainty ``possible``, flagged for review) and the hedge is read as uncertain intent.
"""

from __future__ import annotations

import re

HEDGE_LATER = re.compile(
    r"\b(can't|cant|cannot|can not) (promise|say|guarantee)\b|\bno promises\b|\bwe'?ll see\b|"
    r"\b(not sure|don't know|dunno) (about|if|what)\b[^.?!]{0,40}\b(tonight|later|tomorrow|this weekend|after)\b", re.I)


def hedged_denials(turns) -> int:
    """Rewrite denied screening answers that the same reply hedges. Returns how many."""
    n = 0
    for turn in turns:
        if turn.role == "counselor":
            continue
        hedge = HEDGE_LATER.search(turn.text)
        if hedge is None:
            continue
        for m in turn.mentions:
            if m.drop or m.type != "RISK" or m.polarity != "negated" or m.source != "discourse" \
                    or m.start > hedge.start():
                continue
            m.certainty = "possible"
            m.cue("certainty", hedge.group(0))
            if "review" not in m.flags:
                m.flags.append("review")
            n += 1
        for m in turn.mentions:
            if not m.drop and m.type == "RISK" and m.start <= hedge.start() < m.end and not m.subtype:
                m.subtype = "intent"  # "can't promise" about acting on it: uncertain intent
                m.certainty = "possible"
    return n
