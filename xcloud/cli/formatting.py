"""Plain-text rendering of XCloud answers: tables, face lines, status lines.

Per-face tasks extend the one-line face summary by appending a function to
``FACE_SUMMARY_PARTS``: it gets the ``FaceAnalysis`` and returns its part of the line
(e.g. ``"age 31"``), or None when its field is absent.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

from google.protobuf import json_format
from google.protobuf.message import Message

from xcloud.v1 import common_pb2, gateway_pb2

SEPARATOR = " · "
STATUS_PREFIX = "STATUS_CODE_"
FacePart = Callable[[gateway_pb2.FaceAnalysis], "str | None"]


def to_json_line(message: Message) -> str:
    """Canonical protobuf JSON of ``message`` on one line."""
    return json_format.MessageToJson(message, indent=None)


def table(headers: Sequence[str], rows: Sequence[Sequence[object]], indent: str = "") -> str:
    """Left-aligned columns separated by two spaces; the header is underlined."""
    cells = [[str(c) for c in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(indent + line for line in lines)


def table_width(headers: Sequence[str], rows: Sequence[Sequence[object]], skip: int) -> int:
    """Width of ``table(headers, rows)`` without column ``skip``'s text (its gap still counts):
    what is left of a line for that column is the line width minus this."""
    widths = [max(len(str(row[i])) for row in [headers, *rows]) for i in range(len(headers))]
    return sum(w for i, w in enumerate(widths) if i != skip) + 2 * (len(headers) - 1)


def truncate(text: str, width: int) -> str:
    """``text`` on one line of at most ``width`` characters; a cut ends in "…", at a word
    boundary when one is in the second half of the room."""
    text = " ".join(text.split())
    if len(text) <= width:
        return text
    cut = text[: width - 1]
    space = cut.rfind(" ")
    if space >= width // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:(") + "…"


def point(p: common_pb2.Point) -> str:
    return f"({round(p.x)},{round(p.y)})"


def box(b: common_pb2.BoundingBox) -> str:
    return f"({round(b.x_min)},{round(b.y_min)})-({round(b.x_max)},{round(b.y_max)})"


def status_name(code: int) -> str:
    try:
        return common_pb2.StatusCode.Name(code).removeprefix(STATUS_PREFIX)
    except ValueError:
        return str(code)


def status_line(status: common_pb2.TaskStatus) -> str:
    model = f" [{status.model.name} {status.model.version}]".rstrip() if status.model.name else ""
    message = f": {status.message}" if status.message else ""
    return f"{status.task}: {status_name(status.code)}{model}{message}"


def _score_part(analysis: gateway_pb2.FaceAnalysis) -> str | None:
    return f"score {analysis.face.score:.2f}" if analysis.HasField("face") else None


def _box_part(analysis: gateway_pb2.FaceAnalysis) -> str | None:
    return f"box {box(analysis.face.box)}" if analysis.face.HasField("box") else None


def _attributes_parts(analysis: gateway_pb2.FaceAnalysis) -> str | None:
    """The seed's line: Beauty 3.6 · Gender Male · Race Asian (age comes last, after expression)."""
    found = analysis.attributes
    parts = []
    if found.HasField("beauty"):
        parts.append(f"Beauty {found.beauty.score:.1f}")
    if found.HasField("gender"):
        parts.append(f"Gender {found.gender.label.title()}")
    if found.HasField("race"):
        parts.append(f"Race {found.race.label.title()}")
    return SEPARATOR.join(parts) or None


def _expression_part(analysis: gateway_pb2.FaceAnalysis) -> str | None:
    label = analysis.expression.label
    return f"Expression {label.title()}" if label else None


def _age_part(analysis: gateway_pb2.FaceAnalysis) -> str | None:
    age = analysis.attributes
    return f"Age {age.age.years:.0f}" if age.HasField("age") else None


def _embedding_part(analysis: gateway_pb2.FaceAnalysis) -> str | None:
    values = analysis.embedding.values
    return f"embedding {len(values)}-d" if values else None


def _identity_part(analysis: gateway_pb2.FaceAnalysis) -> str | None:
    if not analysis.HasField("identity"):
        return None
    best = analysis.identity.matches[0] if analysis.identity.matches else None
    if best is None or not best.same_subject:
        return "Identity unknown"
    return f"Identity {best.subject} (distance {best.distance:.2f})"


FACE_SUMMARY_PARTS: list[FacePart] = [
    _score_part, _box_part, _attributes_parts, _expression_part, _age_part, _embedding_part,
    _identity_part,
]


def face_summary(index: int, analysis: gateway_pb2.FaceAnalysis) -> str:
    """``Face 1 · score 0.99 · box (x1,y1)-(x2,y2)`` plus whatever later tasks add."""
    parts = [f"Face {index}"]
    parts += [p for p in (part(analysis) for part in FACE_SUMMARY_PARTS) if p]
    return SEPARATOR.join(parts)


LANDMARKS = ("left_eye", "right_eye", "nose", "mouth_left", "mouth_right")
FACE_HEADERS = ("#", "box", "score", *(name.replace("_", " ") for name in LANDMARKS))


def face_table(faces: Sequence[gateway_pb2.FaceAnalysis], indent: str = "  ") -> str:
    rows = []
    for i, analysis in enumerate(faces, 1):
        face = analysis.face
        marks = [point(getattr(face.landmarks, n)) if face.HasField("landmarks") else "-"
                 for n in LANDMARKS]
        rows.append((i, box(face.box), f"{face.score:.3f}", *marks))
    return table(FACE_HEADERS, rows, indent)


def analysis_text(label: str, response: gateway_pb2.AnalyzeResponse) -> str:
    """The readable answer for one image: header, failed tasks, face table, face lines."""
    count = len(response.faces)
    size = f"{response.image_width}x{response.image_height}  " if response.image_width else ""
    head = f"{label}  {size}{count} face{'' if count == 1 else 's'}"
    if response.request_id:
        head += f"  (request {response.request_id})"
    lines = [head]
    lines += [f"  ! {status_line(s)}" for s in response.statuses
              if s.code != common_pb2.STATUS_CODE_OK]
    if count:
        lines.append(face_table(response.faces))
        lines += [f"  {face_summary(i, f)}" for i, f in enumerate(response.faces, 1)]
    if response.fine_grained.labels:
        top = response.fine_grained.labels[:3]
        labels = ", ".join(f"{l.name} {l.probability:.2f}" for l in top)
        lines.append(f"  Labels ({response.fine_grained.model.name}): {labels}")
    return "\n".join(lines)


def yes_no(flag: bool | None) -> str:
    return "-" if flag is None else ("yes" if flag else "no")
