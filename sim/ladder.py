"""A record ladder diagram (SVG): the firmware on the left, the peer on the right, one arrow per
TLS record in the order the peer journalled them, failed checks and fatal alerts in red - so the
record that broke a connection is visible at a glance in Robot's log or a browser.
"""

from __future__ import annotations

from html import escape

from sim.tls.journal import C2S

WIDTH = 900
LEFT_X = 150
RIGHT_X = 750
ROW = 26
TOP = 70
OK_COLOUR = "#2b6cb0"
ALERT_COLOUR = "#b7791f"
FAIL_COLOUR = "#c53030"


def _label(record) -> str:
    if record.handshake:
        text = ", ".join(record.handshake)
    elif record.alert is not None:
        text = f"Alert {record.alert.get('level', '')} {record.alert.get('description', '')}"
    elif record.content_type == "change_cipher_spec":
        text = "ChangeCipherSpec"
    elif record.app_data is not None:
        text = f"ApplicationData {record.app_data['length']} B"
    else:
        text = record.content_type
    if record.epoch:
        text += " (encrypted)" if not record.handshake and record.app_data is None and record.alert is None else ""
    return f"#{record.index} {text} [{record.length} B]"


def ladder_svg(sessions: list[tuple[str, object]], title: str = "") -> str:
    """`sessions` is a list of (caption, Journal); returns a standalone SVG document."""
    rows: list[str] = []
    y = TOP
    for caption, journal in sessions:
        rows.append(f'<text x="{WIDTH // 2}" y="{y}" text-anchor="middle" class="session">{escape(caption)} '
                    f'- {escape(journal.name)}</text>')
        y += ROW
        for record in journal.records:
            failed = not record.ok
            fatal = record.alert is not None and str(record.alert.get("level")) in ("fatal", "2")
            colour = FAIL_COLOUR if failed else (ALERT_COLOUR if record.alert is not None else OK_COLOUR)
            x1, x2 = (LEFT_X, RIGHT_X) if record.direction == C2S else (RIGHT_X, LEFT_X)
            marker = "arrow-fail" if failed or fatal else ("arrow-alert" if record.alert is not None else "arrow")
            width = 3 if failed or fatal else 1.5
            rows.append(f'<line x1="{x1}" y1="{y}" x2="{x2}" y2="{y}" stroke="{colour}" stroke-width="{width}" '
                        f'marker-end="url(#{marker})"/>')
            rows.append(f'<text x="{WIDTH // 2}" y="{y - 5}" text-anchor="middle" fill="{colour}">'
                        f'{escape(_label(record))}</text>')
            if failed:
                checks = ", ".join(c.name for c in record.failed_checks()) or (record.error or "failed")
                side = LEFT_X - 10 if record.direction != C2S else RIGHT_X + 10
                anchor = "end" if record.direction != C2S else "start"
                rows.append(f'<text x="{side}" y="{y + 4}" text-anchor="{anchor}" fill="{FAIL_COLOUR}" '
                            f'font-weight="bold">&#x2717; {escape(checks)}</text>')
            elif fatal and record.alert.get("reason"):
                rows.append(f'<text x="{WIDTH // 2}" y="{y + 13}" text-anchor="middle" fill="{ALERT_COLOUR}" '
                            f'class="small">{escape(str(record.alert["reason"]))[:110]}</text>')
                y += 10
            y += ROW
        y += ROW // 2
    height = y + 20
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}" font-family="monospace" font-size="12">\n'
        '<style>.session{font-weight:bold;font-size:13px}.small{font-size:10px}.title{font-size:15px;font-weight:bold}</style>\n'
        '<defs>'
        + "".join(
            f'<marker id="{name}" markerWidth="10" markerHeight="8" refX="9" refY="4" orient="auto" markerUnits="userSpaceOnUse">'
            f'<path d="M0,0 L10,4 L0,8 z" fill="{colour}"/></marker>'
            for name, colour in (("arrow", OK_COLOUR), ("arrow-alert", ALERT_COLOUR), ("arrow-fail", FAIL_COLOUR)))
        + '</defs>\n'
        f'<rect width="{WIDTH}" height="{height}" fill="white"/>\n'
        f'<text x="{WIDTH // 2}" y="20" text-anchor="middle" class="title">{escape(title)}</text>\n'
        f'<text x="{LEFT_X}" y="45" text-anchor="middle" class="session">firmware (TLS client)</text>\n'
        f'<text x="{RIGHT_X}" y="45" text-anchor="middle" class="session">peer (TLS server)</text>\n'
        f'<line x1="{LEFT_X}" y1="52" x2="{LEFT_X}" y2="{height - 10}" stroke="#888"/>\n'
        f'<line x1="{RIGHT_X}" y1="52" x2="{RIGHT_X}" y2="{height - 10}" stroke="#888"/>\n'
    )
    if not sessions:
        rows.append(f'<text x="{WIDTH // 2}" y="{TOP}" text-anchor="middle">no TLS connection was made</text>')
    return head + "\n".join(rows) + "\n</svg>\n"
