"""The domain core: what an item is, which items are risk, and the words the attributes take.

The note, the review page, the batch report and extraction all read these names from here, so
they cannot disagree. This module imports nothing of voicenotes and nothing heavy.
"""

from __future__ import annotations

# ----------------------------------------------------------------------------- item types

#: The 13 item types of extraction (schema v1), in the order notes list them.
ITEM_TYPES = (
    "RISK", "RISK_FACTOR", "MEANS", "MEANS_SAFETY", "TRIGGER", "PRECIPITANT", "DISTRESS",
    "COPING", "SUPPORT", "PROTECTIVE", "REFERRAL", "FOLLOW_UP", "CONSENT",
)
#: The types whose recall must stay highest: a missed one is a safety failure.
RISK_TYPES = ("RISK", "RISK_FACTOR", "MEANS")

# ----------------------------------------------------------------------------- attributes

ROLES = ("counselor", "client", "other", "unknown")
POLARITY = ("affirmed", "negated")
MODALITY = ("actual", "conditional", "hypothetical", "question")
EXPERIENCER = ("client", "other")
TEMPORALITY = ("current", "recent", "past", "future")
CERTAINTY = ("certain", "possible")

# ----------------------------------------------------------------------------- lethality topics
# The topics a counselor is expected to assess, and which items speak to each. The note's "Not
# assessed" checklist and the batch report's columns both read :func:`topics_of`, so they agree.

#: (key, label) of the eight lethality topics, in checklist order.
LETHALITY_TOPICS = (
    ("ideation", "Ideation"),
    ("plan", "Plan"),
    ("intent", "Intent"),
    ("means_access", "Means access"),
    ("prior_attempts", "Prior attempts"),
    ("protective_factors", "Protective factors"),
    ("substance_use", "Substance use"),
    ("harm_to_others", "Harm to others"),
)
#: (key, label) of the stage topics the batch report also counts.
COVERAGE_TOPICS = (("coping", "Coping"), ("referrals", "Referrals"), ("follow_up", "Follow-up"))

SUBSTANCE_WORDS = ("substance", "alcohol", "drink", "drug", "intox", "overdos", "opioid",
                   "cannabis", "marijuana", "cocaine", "meth", "heroin", "pills_misuse")
#: RISK subtypes that name their topic outright. A preparatory act (a rope bought, a note written)
#: is part of a plan being carried out; it is not an attempt.
RISK_SUBTYPE_TOPIC = {"plan": "plan", "preparatory": "plan", "intent": "intent",
                      "attempt": "prior_attempts", "harm_to_others": "harm_to_others"}
#: Item types that speak to one topic whatever their details.
TYPE_TOPIC = {"MEANS": "means_access", "MEANS_SAFETY": "means_access",
              "PROTECTIVE": "protective_factors", "COPING": "coping",
              "REFERRAL": "referrals", "FOLLOW_UP": "follow_up"}


def topics_of(item_type: str | None, subtype: str | None = None, factor: str | None = None,
              clue: str = "") -> list[str]:
    """The lethality and coverage topics one item speaks to. ``subtype`` and ``factor`` decide
    first; where they are empty, ``clue`` (the rule id and evidence words, lower case) is looked at
    only to classify. Whose statement it is (the client's or someone else's) is for the caller: a
    relative's attempt says nothing about the client's own."""
    sub = (subtype or "").lower()
    fac = (factor or "").lower()
    clue = clue.lower()
    if item_type == "RISK":
        if sub.startswith("ideation"):
            return ["ideation"]
        if sub in RISK_SUBTYPE_TOPIC:
            return [RISK_SUBTYPE_TOPIC[sub]]
        if sub == "self_harm":
            return []  # counted with the risk items; not one of the eight topics
        if "attempt" in clue:
            return ["prior_attempts"]
        if "plan" in clue:
            return ["plan"]
        return ["ideation"]  # an unspecified suicide-risk mention
    if item_type == "RISK_FACTOR":
        text = f"{sub} {fac}" if (sub or fac) else clue
        topics = ["substance_use"] if any(w in text for w in SUBSTANCE_WORDS) else []
        if "attempt" in f"{sub} {fac} {clue}":
            topics.append("prior_attempts")  # e.g. a relative's attempt (someone else's: see above)
        return topics
    return [TYPE_TOPIC[item_type]] if item_type in TYPE_TOPIC else []


# ----------------------------------------------------------------------------- session context
# (the session's mode and its time-zone-aware start, built once and passed down)
