"""Review: the self-contained review page (``review.html``) and the counselor's decisions."""
