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
# (the mapping from items to the topics a counselor is expected to assess lives here)


# ----------------------------------------------------------------------------- session context
# (the session's mode and its time-zone-aware start, built once and passed down)
