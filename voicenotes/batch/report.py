"""The supervision report of a batch: ``report.csv`` and a self-contained ``report.html``.

One row per recording: duration, words, affirmed and denied risk items, whether each lethality
topic was assessed, whether coping, referrals and follow-up were covered, doubtful-audio flags and
the partial/failed status, with counts across the folder and a coverage plot (matplotlib, inline
SVG). The HTML has inline CSS and JS only (no network request), and its table sorts in the browser.

No transcript words appear unless ``include_quotes`` is set (``--include-quotes``): then the
quoted evidence of each risk item is added in one extra column.
"""

from __future__ import annotations

import csv
import datetime as _dt
import html
import io
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from voicenotes.domain import RISK_TYPES, attribution_banner
from voicenotes.store import atomic_write_text

#: Lethality topics: (column, label). What counts for each is in :func:`topic_of`.
LETHALITY = (
    ("ideation", "Ideation"),
    ("plan", "Plan"),
    ("intent", "Intent"),
    ("means_access", "Means access"),
    ("prior_attempts", "Prior attempts"),
    ("protective_factors", "Protective factors"),
    ("substance_use", "Substance use"),
    ("harm_to_others", "Harm to others"),
)
COVERAGE = (("coping", "Coping"), ("referrals", "Referrals"), ("follow_up", "Follow-up"))

NOT_ASSESSED = "not assessed"
TOPIC_STATES = ("affirmed", "denied", "mentioned", NOT_ASSESSED)

_SUBSTANCE_WORDS = ("substance", "alcohol", "drink", "drug", "intox", "overdos", "opioid",
                    "cannabis", "marijuana", "cocaine", "meth", "heroin", "pills_misuse")


def _lower(v: Any) -> str:
    return str(v or "").lower()


def topic_of(item: dict[str, Any]) -> list[str]:
    """The lethality/coverage topics one item (an items.json entry) speaks to. Subtype and value
    fields decide first; where the rules left them empty, the rule id and the evidence words are
    looked at (only to classify: no words are copied into the report)."""
    t = item.get("type")
    value = item.get("value") or {}
    sub = _lower(item.get("subtype") or value.get("subtype"))
    factor = _lower(value.get("factor"))
    clue = " ".join((_lower(item.get("rule_id")),
                     _lower((item.get("evidence") or {}).get("quote"))))
    topics: list[str] = []
    if t == "RISK":
        if sub.startswith("ideation") or sub == "ideation":
            topics.append("ideation")
        elif sub in ("plan", "preparatory"):
            topics.append("plan")
        elif sub == "intent":
            topics.append("intent")
        elif sub == "attempt":
            topics.append("prior_attempts")
        elif sub == "harm_to_others":
            topics.append("harm_to_others")
        elif sub == "self_harm":
            pass  # counted in the risk totals; not one of the eight topics
        elif "attempt" in clue:
            topics.append("prior_attempts")
        elif "plan" in clue:
            topics.append("plan")
        else:
            topics.append("ideation")  # an unspecified suicide-risk mention
    elif t == "RISK_FACTOR":
        text = " ".join((sub, factor)) if (sub or factor) else clue
        if any(w in text for w in _SUBSTANCE_WORDS):
            topics.append("substance_use")
        if "attempt" in f"{sub} {factor} {clue}":
            topics.append("prior_attempts")  # e.g. a relative's attempt: shown as third-party
    elif t in ("MEANS", "MEANS_SAFETY"):
        topics.append("means_access")
    elif t == "PROTECTIVE":
        topics.append("protective_factors")
    elif t == "COPING":
        topics.append("coping")
    elif t == "REFERRAL":
        topics.append("referrals")
    elif t == "FOLLOW_UP":
        topics.append("follow_up")
    return topics


def _topic_state(items: list[dict[str, Any]]) -> str:
    """affirmed: the client's own actual statement; denied: only negated statements of the
    client; mentioned: asked, conditional, hypothetical or about someone else."""
    if not items:
        return NOT_ASSESSED
    client = [i for i in items if i.get("experiencer", "client") == "client"]
    if any(i.get("polarity") == "affirmed" and i.get("modality", "actual") == "actual"
           for i in client):
        return "affirmed"
    if any(i.get("polarity") == "negated" for i in client):
        return "denied"
    return "mentioned"


@dataclass
class Row:
    recording: str
    status: str                      # done / partial / failed / pending / running / duplicate
    duration_s: float | None = None
    words: int | None = None
    risk_affirmed: int | None = None
    risk_denied: int | None = None
    topics: dict[str, str] = field(default_factory=dict)
    coverage: dict[str, bool | None] = field(default_factory=dict)
    doubtful_segments: int | None = None
    audio_flags: list[str] = field(default_factory=list)
    problem: str = ""
    expected_s: float | None = None
    output: str = ""
    quotes: list[str] = field(default_factory=list)
    model: str = ""
    speakers: str = ""               # what speaker separation found; says when unverified


def _load(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def row_for_outputs(recording: str, status: str, folder: Path, *, include_quotes: bool) -> Row:
    row = Row(recording=recording, status=status, output=folder.name)
    tr = _load(folder / "transcript.json")
    it = _load(folder / "items.json")
    if tr is None or it is None:
        row.problem = "outputs missing or unreadable (run the batch again with a new --out folder)"
        return row
    audio = tr.get("audio") or {}
    segs = tr.get("segments") or []
    row.duration_s = audio.get("duration_s")
    row.expected_s = audio.get("container_duration_s")
    row.words = sum(len(s.get("words") or []) or len(str(s.get("text") or "").split())
                    for s in segs)
    row.doubtful_segments = sum(1 for s in segs if s.get("verify"))
    row.audio_flags = [str(f) for f in (tr.get("flags") or [])]
    row.model = str((tr.get("provenance") or {}).get("model_name") or "")
    if status == "partial":
        row.problem = str(audio.get("partial_reason") or "audio shorter than its container")
    items = list(it.get("items") or [])
    risk = [i for i in items if i.get("type") in RISK_TYPES]
    row.risk_affirmed = sum(1 for i in risk if i.get("polarity", "affirmed") == "affirmed"
                            and i.get("modality", "actual") != "question")
    row.speakers = speakers_text(tr, it)
    row.risk_denied = sum(1 for i in risk if i.get("polarity") == "negated")
    by_topic: dict[str, list[dict[str, Any]]] = {}
    for i in items:
        for t in topic_of(i):
            by_topic.setdefault(t, []).append(i)
    row.topics = {k: _topic_state(by_topic.get(k, [])) for k, _ in LETHALITY}
    row.coverage = {k: bool(by_topic.get(k)) for k, _ in COVERAGE}
    if include_quotes:
        for i in risk:
            ev = i.get("evidence") or {}
            label = i.get("type") + (f"/{i['subtype']}" if i.get("subtype") else "")
            row.quotes.append(f"{label} ({i.get('polarity', 'affirmed')}): {ev.get('quote', '')}")
    return row


def speakers_text(transcript: dict[str, Any], items: dict[str, Any]) -> str:
    """``2 voices (session)``, ``1 voice (dictation)`` or the unverified banner with its reason."""
    banner = attribution_banner(items.get("provenance") or {})
    if banner:
        reason = ((items.get("provenance") or {}).get("attribution") or {}).get("reason")
        return f"{banner} ({reason})" if reason else banner
    sp = transcript.get("speakers") or {}
    n = sp.get("count")
    if not n:
        return ""
    mode = items.get("mode") or ""
    return f"{n} voice{'s' if n != 1 else ''}" + (f" ({mode})" if mode else "")


def build_rows(journal, inputs: Iterable[tuple], out_dir: Path, *,
               include_quotes: bool) -> list[Row]:
    """One row per input file of this run (``inputs``: (rel, sha, size, mtime_ns, duplicate_of))."""
    jobs = {r["sha256"]: r for r in journal.jobs()}
    rows: list[Row] = []
    for rel, sha, _size, _mtime, dup in inputs:
        job = jobs.get(sha)
        if job is None:
            rows.append(Row(recording=rel, status="pending"))
            continue
        if dup:
            rows.append(Row(recording=rel, status="duplicate", problem=f"same audio as {dup}",
                            output=job["out_name"]))
            continue
        state = job["state"]
        if state in ("done", "partial"):
            row = row_for_outputs(rel, state, out_dir / job["out_name"],
                                  include_quotes=include_quotes)
            row.output = job["out_name"]
        elif state == "failed":
            row = Row(recording=rel, status="failed",
                      problem=f"{job['error_class']}: {job['error_message']}",
                      expected_s=job["expected_s"], duration_s=job["decoded_s"])
        else:
            row = Row(recording=rel, status=state, problem="not processed yet")
        rows.append(row)
    return rows


# --------------------------------------------------------------------------- CSV


def _cell(v: Any) -> str:
    """Plain text for a CSV cell; a leading = + - @ is neutralised (spreadsheet formulas)."""
    if v is None:
        return ""
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:.1f}"
    s = str(v)
    if s[:1] in ("=", "+", "-", "@", "\t", "\r"):
        s = "'" + s
    return s


def csv_header(include_quotes: bool) -> list[str]:
    cols = ["recording", "status", "duration_s", "words", "risk_affirmed", "risk_denied"]
    cols += [k for k, _ in LETHALITY] + [k for k, _ in COVERAGE]
    cols += ["doubtful_segments", "audio_flags", "problem", "expected_duration_s", "output_folder",
             "speakers"]
    if include_quotes:
        cols.append("risk_quotes")
    return cols


def render_csv(rows: list[Row], include_quotes: bool) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(csv_header(include_quotes))
    for r in rows:
        cov = {k: (r.coverage.get(k) if r.coverage else None) for k, _ in COVERAGE}
        line = [r.recording, r.status, r.duration_s, r.words, r.risk_affirmed, r.risk_denied]
        line += [r.topics.get(k, "") for k, _ in LETHALITY]
        line += [cov[k] for k, _ in COVERAGE]
        line += [r.doubtful_segments, " ".join(r.audio_flags), r.problem, r.expected_s, r.output,
                 r.speakers]
        if include_quotes:
            line.append(" | ".join(r.quotes))
        w.writerow([_cell(v) for v in line])
    return buf.getvalue()


# --------------------------------------------------------------------------- counts and plot


def counts(rows: list[Row]) -> dict[str, Any]:
    processed = [r for r in rows if r.status in ("done", "partial") and r.topics]
    c: dict[str, Any] = {
        "recordings": sum(1 for r in rows if r.status != "duplicate"),
        "done": sum(1 for r in rows if r.status == "done"),
        "partial": sum(1 for r in rows if r.status == "partial"),
        "failed": sum(1 for r in rows if r.status == "failed"),
        "duplicate": sum(1 for r in rows if r.status == "duplicate"),
        "not_processed": sum(1 for r in rows if r.status in ("pending", "running")),
        "processed": len(processed),
        "audio_s": sum(r.duration_s or 0.0 for r in processed),
        "words": sum(r.words or 0 for r in processed),
        "risk_affirmed": sum(r.risk_affirmed or 0 for r in processed),
        "risk_denied": sum(r.risk_denied or 0 for r in processed),
        "doubtful_segments": sum(r.doubtful_segments or 0 for r in processed),
        "with_doubtful_audio": sum(1 for r in processed if r.doubtful_segments or r.audio_flags),
    }
    topics = {}
    for k, _ in LETHALITY:
        topics[k] = {s: sum(1 for r in processed if r.topics.get(k) == s) for s in TOPIC_STATES}
    for k, _ in COVERAGE:
        yes = sum(1 for r in processed if r.coverage.get(k))
        topics[k] = {"affirmed": yes, "denied": 0, "mentioned": 0, NOT_ASSESSED: len(processed) - yes}
    c["topics"] = topics
    return c


def coverage_svg(c: dict[str, Any]) -> str:
    """A horizontal stacked bar per topic: share of processed recordings where it was affirmed,
    denied, only mentioned, or not assessed. Returned as inline SVG text."""
    import matplotlib

    matplotlib.rcParams["svg.hashsalt"] = "voicenotes-report"
    matplotlib.rcParams["svg.fonttype"] = "none"
    from matplotlib.figure import Figure

    labels = [lab for _, lab in LETHALITY] + [lab for _, lab in COVERAGE]
    keys = [k for k, _ in LETHALITY] + [k for k, _ in COVERAGE]
    n = max(1, c["processed"])
    fig = Figure(figsize=(7.5, 4.2), dpi=96)
    ax = fig.add_subplot(1, 1, 1)
    colors = {"affirmed": "#b03a2e", "denied": "#2e86c1", "mentioned": "#f0b27a",
              NOT_ASSESSED: "#e5e7e9"}
    names = {"affirmed": "affirmed / covered", "denied": "denied", "mentioned":
             "asked or third-party only", NOT_ASSESSED: "not assessed"}
    y = list(range(len(keys)))[::-1]
    left = [0.0] * len(keys)
    for state in TOPIC_STATES:
        vals = [100.0 * c["topics"][k][state] / n for k in keys]
        ax.barh(y, vals, left=left, color=colors[state], label=names[state], height=0.7,
                edgecolor="white", linewidth=0.5)
        left = [a + b for a, b in zip(left, vals)]
    ax.set_yticks(y)
    ax.set_yticklabels(labels)
    ax.set_xlim(0, 100)
    ax.set_xlabel(f"% of {c['processed']} processed recordings")
    ax.set_title("Coverage across recordings")
    ax.axhline(len(COVERAGE) - 0.5, color="#7f8c8d", linewidth=0.8, linestyle=":")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=4, fontsize=8, frameon=False)
    fig.subplots_adjust(left=0.2, right=0.97, top=0.92, bottom=0.22)
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None})
    svg = buf.getvalue()
    start = svg.find("<svg")
    return svg[start:] if start >= 0 else svg


# --------------------------------------------------------------------------- HTML

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:1.5rem;color:#1c2833}
h1{font-size:1.4rem;margin:0 0 .3rem}
.meta{color:#566573;margin:.2rem 0 1rem}
.note{background:#fef9e7;border:1px solid #f7dc6f;padding:.5rem .8rem;border-radius:4px}
.cards{display:flex;flex-wrap:wrap;gap:.6rem;margin:1rem 0}
.card{border:1px solid #d5d8dc;border-radius:6px;padding:.5rem .8rem;min-width:7rem}
.card b{display:block;font-size:1.3rem}
table{border-collapse:collapse;font-size:.85rem;margin-top:1rem}
th,td{border:1px solid #d5d8dc;padding:.3rem .45rem;text-align:left;vertical-align:top}
th{background:#f4f6f7;position:sticky;top:0}
th button{all:unset;cursor:pointer;font-weight:600}
th button:focus{outline:2px solid #2e86c1}
th[aria-sort=ascending] button::after{content:" \\25B2"}
th[aria-sort=descending] button::after{content:" \\25BC"}
td.num{text-align:right;font-variant-numeric:tabular-nums}
td.unverified{color:#b03a2e;font-weight:700}td.affirmed{background:#f5b7b1}td.denied{background:#d6eaf8}td.mentioned{background:#fdebd0}
td.na{color:#7f8c8d}
tr.failed td{background:#fdedec}tr.partial td.status{background:#fcf3cf}
tfoot td{font-weight:600;background:#f4f6f7}
.plot svg{max-width:100%;height:auto}
"""

_JS = """
(function(){
  var table=document.getElementById('recordings');
  var body=table.tBodies[0];
  function key(td){var v=td.getAttribute('data-sort');return v===null?td.textContent.trim():v;}
  function cmp(a,b){var x=parseFloat(a),y=parseFloat(b);
    var nx=(a!==''&&!isNaN(x)&&isFinite(a)),ny=(b!==''&&!isNaN(y)&&isFinite(b));
    if(nx&&ny)return x-y; if(nx)return -1; if(ny)return 1;
    return a.localeCompare(b,undefined,{numeric:true,sensitivity:'base'});}
  var ths=table.tHead.rows[0].cells;
  Array.prototype.forEach.call(ths,function(th,col){
    var b=th.querySelector('button'); if(!b)return;
    b.addEventListener('click',function(){
      var dir=th.getAttribute('aria-sort')==='ascending'?'descending':'ascending';
      Array.prototype.forEach.call(ths,function(o){o.removeAttribute('aria-sort');});
      th.setAttribute('aria-sort',dir);
      var rows=Array.prototype.slice.call(body.rows);
      rows.forEach(function(r,i){r._i=i;});
      rows.sort(function(r1,r2){var a=key(r1.cells[col]),b=key(r2.cells[col]);
        if(a===''&&b!=='')return 1; if(b===''&&a!=='')return -1;  /* blanks stay last */
        var c=cmp(a,b); if(dir==='descending')c=-c; return c||r1._i-r2._i;});
      rows.forEach(function(r){body.appendChild(r);});
    });
  });
})();
"""


def _e(v: Any) -> str:
    return html.escape("" if v is None else str(v), quote=True)


def _hms(s: float | None) -> str:
    if s is None:
        return ""
    s = int(round(s))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


def render_html(rows: list[Row], c: dict[str, Any], *, include_quotes: bool, source: str,
                generated: str, svg: str | None) -> str:
    head = ["Recording", "Status", "Duration", "Words", "Risk affirmed", "Risk denied"]
    head += [lab for _, lab in LETHALITY] + [lab for _, lab in COVERAGE]
    head += ["Doubtful audio", "Speakers", "Problem"]
    if include_quotes:
        head.append("Risk quotes")
    out: list[str] = []
    a = out.append
    a("<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>")
    a("<meta http-equiv='Content-Security-Policy' content=\"default-src 'none'; "
      "style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">")
    a("<meta name='viewport' content='width=device-width,initial-scale=1'>")
    a(f"<title>Supervision report — {_e(source)}</title><style>{_CSS}</style></head><body>")
    a(f"<h1>Supervision report: {_e(source)}</h1>")
    a(f"<p class='meta'>Made by voicenotes on {_e(generated)} from automatic drafts. "
      "Figures come from machine transcripts and rules; check each recording's review page "
      "before relying on them.</p>")
    if not include_quotes:
        a("<p class='note'>This report holds no transcript words. "
          "(Run the batch with <code>--include-quotes</code> to add the risk quotes.)</p>")
    else:
        a("<p class='note'><strong>This report contains quotes from sessions.</strong> "
          "Store and share it like the session notes themselves.</p>")
    cards = [("Recordings", c["recordings"]), ("Processed", c["processed"]),
             ("Partial audio", c["partial"]), ("Failed", c["failed"]),
             ("Duplicates", c["duplicate"]), ("Audio", _hms(c["audio_s"])),
             ("Risk items affirmed", c["risk_affirmed"]), ("Risk items denied", c["risk_denied"]),
             ("With doubtful audio", c["with_doubtful_audio"])]
    if c["not_processed"]:
        cards.insert(4, ("Not processed yet", c["not_processed"]))
    a("<div class='cards'>" + "".join(
        f"<div class='card'><b>{_e(v)}</b>{_e(k)}</div>" for k, v in cards) + "</div>")
    if svg:
        a(f"<figure class='plot' aria-label='Coverage across recordings'>{svg}</figure>")
    a("<table id='recordings'><thead><tr>")
    for h in head:
        a(f"<th scope='col'><button type='button'>{_e(h)}</button></th>")
    a("</tr></thead><tbody>")
    for r in rows:
        a(f"<tr class='{_e(r.status)}'>")
        link = (f"<a href='{_e(r.output)}/review.html'>{_e(r.recording)}</a>"
                if r.status in ("done", "partial") and r.output else _e(r.recording))
        a(f"<td data-sort='{_e(r.recording)}'>{link}</td>")
        a(f"<td class='status'>{_e(r.status)}</td>")
        dur = r.duration_s if r.duration_s is not None else r.expected_s
        a(f"<td class='num' data-sort='{'' if dur is None else f'{dur:.3f}'}'>{_e(_hms(dur))}</td>")
        for v in (r.words, r.risk_affirmed, r.risk_denied):
            a(f"<td class='num'>{_e(v)}</td>")
        for k, _ in LETHALITY:
            st = r.topics.get(k, "")
            cls = {"affirmed": "affirmed", "denied": "denied", "mentioned": "mentioned",
                   NOT_ASSESSED: "na"}.get(st, "")
            a(f"<td class='{cls}'>{_e(st)}</td>")
        for k, _ in COVERAGE:
            v = r.coverage.get(k) if r.coverage else None
            a(f"<td>{'' if v is None else ('yes' if v else 'no')}</td>")
        doubt = ""
        if r.doubtful_segments is not None:
            doubt = f"{r.doubtful_segments} segment(s)"
            if r.audio_flags:
                doubt += "; " + ", ".join(r.audio_flags)
        a(f"<td data-sort='{r.doubtful_segments if r.doubtful_segments is not None else ''}'>"
          f"{_e(doubt)}</td>")
        unverified = "unverified" in r.speakers
        cls_att = " class='unverified'" if unverified else ""
        a(f"<td{cls_att}>{_e(r.speakers)}</td>")
        a(f"<td>{_e(r.problem)}</td>")
        if include_quotes:
            a("<td>" + "<br>".join(_e(q) for q in r.quotes) + "</td>")
        a("</tr>")
    a("</tbody><tfoot><tr>")
    n = c["processed"]
    foot = [f"{c['recordings']} recordings", f"{c['done']} done, {c['partial']} partial, "
            f"{c['failed']} failed", _hms(c["audio_s"]), str(c["words"]),
            str(c["risk_affirmed"]), str(c["risk_denied"])]
    for k, _ in LETHALITY + COVERAGE:
        t = c["topics"][k]
        foot.append(f"{n - t[NOT_ASSESSED]} of {n}")
    foot += [f"{c['with_doubtful_audio']} of {n}", "", ""]
    if include_quotes:
        foot.append("")
    a("".join(f"<td>{_e(v)}</td>" for v in foot))
    a("</tr></tfoot></table>")
    a("<p class='meta'>Lethality topics: <em>affirmed</em> = the client's own statement; "
      "<em>denied</em> = only negated; <em>asked or third-party only</em> = a question, a "
      "conditional, or about someone else; <em>not assessed</em> = nothing found. "
      "Counts in the last row are over processed recordings.</p>")
    a(f"<script>{_JS}</script></body></html>")
    return "\n".join(out)


def write_reports(journal, src: Path, out_dir: Path, *, include_quotes: bool,
                  inputs: Iterable[tuple]) -> list[Path]:
    rows = build_rows(journal, list(inputs), out_dir, include_quotes=include_quotes)
    c = counts(rows)
    svg = coverage_svg(c) if c["processed"] else None
    generated = _dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    csv_path = atomic_write_text(out_dir / "report.csv", render_csv(rows, include_quotes))
    html_path = atomic_write_text(out_dir / "report.html", render_html(
        rows, c, include_quotes=include_quotes, source=Path(src).name or str(src),
        generated=generated, svg=svg))
    return [csv_path, html_path]
