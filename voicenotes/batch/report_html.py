"""The supervision report as one self-contained HTML page: summary cards, a coverage plot
(matplotlib, inline SVG) and a table that sorts in the browser. Inline CSS and JS only: the page
makes no network request.
"""

from __future__ import annotations

import html
import io
from typing import Any

from voicenotes.batch.report_rows import COVERAGE, LETHALITY, NOT_ASSESSED, TOPIC_STATES, Row


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
        left = [a + b for a, b in zip(left, vals, strict=True)]
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


_TOPIC_CLASS = {"affirmed": "affirmed", "denied": "denied", "mentioned": "mentioned",
                NOT_ASSESSED: "na"}


def _intro(source: str, generated: str, include_quotes: bool) -> list[str]:
    out = ["<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
           "<meta http-equiv='Content-Security-Policy' content=\"default-src 'none'; "
           "style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">",
           "<meta name='viewport' content='width=device-width,initial-scale=1'>",
           f"<title>Supervision report — {_e(source)}</title><style>{_CSS}</style></head><body>",
           f"<h1>Supervision report: {_e(source)}</h1>",
           f"<p class='meta'>Made by voicenotes on {_e(generated)} from automatic drafts. "
           "Figures come from machine transcripts and rules; check each recording's review page "
           "before relying on them.</p>"]
    if not include_quotes:
        out.append("<p class='note'>This report holds no transcript words. "
                   "(Run the batch with <code>--include-quotes</code> to add the risk quotes.)</p>")
    else:
        out.append("<p class='note'><strong>This report contains quotes from sessions.</strong> "
                   "Store and share it like the session notes themselves.</p>")
    return out


def _cards(c: dict[str, Any]) -> str:
    cards = [("Recordings", c["recordings"]), ("Processed", c["processed"]),
             ("Partial audio", c["partial"]), ("Failed", c["failed"]),
             ("Duplicates", c["duplicate"]), ("Audio", _hms(c["audio_s"])),
             ("Risk items affirmed", c["risk_affirmed"]), ("Risk items denied", c["risk_denied"]),
             ("With doubtful audio", c["with_doubtful_audio"])]
    if c["not_processed"]:
        cards.insert(4, ("Not processed yet", c["not_processed"]))
    return "<div class='cards'>" + "".join(
        f"<div class='card'><b>{_e(v)}</b>{_e(k)}</div>" for k, v in cards) + "</div>"


def _table_head(include_quotes: bool) -> list[str]:
    head = ["Recording", "Status", "Duration", "Words", "Risk affirmed", "Risk denied"]
    head += [lab for _, lab in LETHALITY] + [lab for _, lab in COVERAGE]
    head += ["Doubtful audio", "Speakers", "Problem"]
    if include_quotes:
        head.append("Risk quotes")
    return (["<table id='recordings'><thead><tr>"]
            + [f"<th scope='col'><button type='button'>{_e(h)}</button></th>" for h in head]
            + ["</tr></thead><tbody>"])


def _doubt_cell(r: Row) -> str:
    doubt = ""
    if r.doubtful_segments is not None:
        doubt = f"{r.doubtful_segments} segment(s)"
        if r.audio_flags:
            doubt += "; " + ", ".join(r.audio_flags)
    return (f"<td data-sort='{r.doubtful_segments if r.doubtful_segments is not None else ''}'>"
            f"{_e(doubt)}</td>")


def _row(r: Row, include_quotes: bool) -> list[str]:
    link = (f"<a href='{_e(r.output)}/review.html'>{_e(r.recording)}</a>"
            if r.status in ("done", "partial") and r.output else _e(r.recording))
    dur = r.duration_s if r.duration_s is not None else r.expected_s
    out = [f"<tr class='{_e(r.status)}'>", f"<td data-sort='{_e(r.recording)}'>{link}</td>",
           f"<td class='status'>{_e(r.status)}</td>",
           f"<td class='num' data-sort='{'' if dur is None else f'{dur:.3f}'}'>{_e(_hms(dur))}</td>"]
    out += [f"<td class='num'>{_e(v)}</td>" for v in (r.words, r.risk_affirmed, r.risk_denied)]
    for k, _ in LETHALITY:
        st = r.topics.get(k, "")
        out.append(f"<td class='{_TOPIC_CLASS.get(st, '')}'>{_e(st)}</td>")
    for k, _ in COVERAGE:
        v = r.coverage.get(k) if r.coverage else None
        out.append(f"<td>{'' if v is None else ('yes' if v else 'no')}</td>")
    att = " class='unverified'" if "unverified" in r.speakers else ""
    out += [_doubt_cell(r), f"<td{att}>{_e(r.speakers)}</td>", f"<td>{_e(r.problem)}</td>"]
    if include_quotes:
        out.append("<td>" + "<br>".join(_e(q) for q in r.quotes) + "</td>")
    return out + ["</tr>"]


def _footer(c: dict[str, Any], include_quotes: bool) -> str:
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
    return "".join(f"<td>{_e(v)}</td>" for v in foot)


def render_html(rows: list[Row], c: dict[str, Any], *, include_quotes: bool, source: str,
                generated: str, svg: str | None) -> str:
    out = _intro(source, generated, include_quotes)
    out.append(_cards(c))
    if svg:
        out.append(f"<figure class='plot' aria-label='Coverage across recordings'>{svg}</figure>")
    out += _table_head(include_quotes)
    for r in rows:
        out += _row(r, include_quotes)
    out += ["</tbody><tfoot><tr>", _footer(c, include_quotes), "</tr></tfoot></table>",
            "<p class='meta'>Lethality topics: <em>affirmed</em> = the client's own statement; "
            "<em>denied</em> = only negated; <em>asked or third-party only</em> = a question, a "
            "conditional, or about someone else; <em>not assessed</em> = nothing found. "
            "Counts in the last row are over processed recordings.</p>",
            f"<script>{_JS}</script></body></html>"]
    return "\n".join(out)
