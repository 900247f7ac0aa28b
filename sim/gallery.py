"""The defect gallery as scenarios: each `bug-*` image (and `seedbug`) under the field condition that
exposes its defect, with the cause class the diagnosis must name; `fixed` under the same
conditions, where it must pass. `run_gallery` runs them and `confusion_table` tabulates variant
against diagnosed class (diagonal when every variant is named for what it is).

The images and their defects are described in firmware/README.md ("The defect gallery"). The
diagnosis never sees a variant's name: `sim.diagnosis.classify` reads only the run's evidence
(tests/diagnosis/test_gallery_evidence.py checks that the evidence does not even mention it).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from sim.errors import ScenarioError
from sim.net.faults import StreamByte
from sim.scenario import FIRMWARE_DIR, LinkFault, Scenario, Step
from sim.tls.policy import ServerPolicy

GCM = "TLS-ECDHE-RSA-WITH-AES-128-GCM-SHA256"
CBC_SHA256 = "TLS-ECDHE-RSA-WITH-AES-128-CBC-SHA256"
# the user's report: TLS 1.0, 1.1 and 1.2, AES-128-CBC-SHA (every version) and AES-128-GCM-SHA256
# (TLS 1.2 only, RFC 5288 §4), RSA and ECDHE-RSA key exchange
REPORT_MATRIX = (
    ("1.0", "TLS-ECDHE-RSA-WITH-AES-128-CBC-SHA"), ("1.0", "TLS-RSA-WITH-AES-128-CBC-SHA"),
    ("1.1", "TLS-ECDHE-RSA-WITH-AES-128-CBC-SHA"), ("1.1", "TLS-RSA-WITH-AES-128-CBC-SHA"),
    ("1.2", "TLS-ECDHE-RSA-WITH-AES-128-GCM-SHA256"), ("1.2", "TLS-RSA-WITH-AES-128-GCM-SHA256"),
    ("1.2", "TLS-ECDHE-RSA-WITH-AES-128-CBC-SHA"), ("1.2", "TLS-RSA-WITH-AES-128-CBC-SHA"),
)
SMALL_WINDOW = 2048          # a server that acknowledges less than one 4 KiB record at a time
UPLOAD = "/upload"
PEER_TLS_PORT = 443


def lost_segment(stream_byte: int) -> tuple[LinkFault, ...]:
    """The device's TCP segment that carries `stream_byte` of the connection to port 443 is lost
    once on the link (its retransmission gets through)."""
    return (LinkFault("device->host", "drop", (("when", StreamByte(stream_byte, dst_port=PEER_TLS_PORT)),
                                               ("limit", 1))),)


# The segment to lose must be a record's tail, on the wire when the send callback returns: the
# last segment of the first 4 KiB record with TLS 1.1 and 1.2 (byte 4000 lies in it for every
# suite of the matrix); with TLS 1.0 the 1-byte record Mbed TLS's CBC record splitting (1/n-1,
# MBEDTLS_SSL_CBC_RECORD_SPLITTING) puts before the second write's record.
TAIL_BYTE = {("1.0", "TLS-ECDHE-RSA-WITH-AES-128-CBC-SHA"): 4420, ("1.0", "TLS-RSA-WITH-AES-128-CBC-SHA"): 4594}
DEFAULT_TAIL_BYTE = 4000


@dataclass(frozen=True)
class Condition:
    """A field condition: what the link, the server or its TCP do."""

    key: str                        # its name on the command line and in robot/gallery.robot
    name: str
    faults: Callable[[str, str], tuple] = lambda tls, suite: ()
    policy: ServerPolicy | None = None
    receive_window: int | None = None
    applies: Callable[[str, str], bool] = lambda tls, suite: True


CLEAN = Condition("clean", "clean link")
LOSS = Condition("lost-tail", "a record's tail segment lost once",
                 faults=lambda tls, suite: lost_segment(TAIL_BYTE.get((tls, suite), DEFAULT_TAIL_BYTE)))
SMALL = Condition(f"window-{SMALL_WINDOW}", f"server window {SMALL_WINDOW} bytes", receive_window=SMALL_WINDOW)
RFC6066 = Condition("rfc6066-server", "server accepts truncated HMAC (RFC 6066 keys)",
                    policy=ServerPolicy(truncated_hmac=True), applies=lambda tls, suite: "CBC" in suite)
CONDITIONS = {c.key: c for c in (CLEAN, LOSS, SMALL, RFC6066)}


def condition(key: str) -> Condition:
    try:
        return CONDITIONS[key]
    except KeyError:
        raise ScenarioError(f"no field condition {key!r}; the gallery has {', '.join(CONDITIONS)}") from None


@dataclass(frozen=True)
class Variant:
    name: str
    expected: str                   # the cause class the diagnosis must name
    condition: Condition
    size: int                       # POST body bytes
    suite: tuple[str, str] = ("1.2", GCM)      # the representative run of `gallery --table`


VARIANTS: tuple[Variant, ...] = (
    Variant("seedbug", "transport_corruption", CLEAN, 4096),
    Variant("bug-tcp-nocopy", "retransmission_mismatch", LOSS, 16384),
    Variant("bug-partial-send", "missing_stream_bytes", SMALL, 65536),
    Variant("bug-want-write-args", "missing_stream_bytes", SMALL, 65536),
    Variant("bug-two-writers", "concurrent_writers", CLEAN, 65536),
    Variant("bug-stack-overflow", "memory_corruption", CLEAN, 4000),
    Variant("bug-trunc-hmac", "truncated_hmac", RFC6066, 903, ("1.2", CBC_SHA256)),
)
FIXED = "fixed"


def image_path(name: str) -> Path:
    path = FIRMWARE_DIR / f"{name}.elf"
    if not path.exists():
        raise ScenarioError(f"the gallery image {name!r} is not built ({path} is missing): run scripts/build-firmware")
    return path


def post_case(firmware: str, tls: str, suite: str, size: int, condition_key: str = "clean", *, path: str = UPLOAD,
              seed: int = 1, **scenario):
    """A `sim.diagnosis.Case`: POST `size` bytes to `path` under the named field condition (its
    faults added to `faults`; its policy unless `policy` is given)."""
    from sim.diagnosis import Case

    c = condition(condition_key)
    faults = tuple(scenario.pop("faults", ())) + c.faults(tls, suite)
    policy = scenario.pop("policy", None) or c.policy
    return Case(Scenario(firmware=firmware, tls_version=tls, suite=suite, seed=seed, faults=faults, policy=policy,
                         steps=(Step("post", path, size, expect="any"),), **scenario), c.receive_window)


@dataclass(frozen=True)
class GalleryRun:
    """One gallery scenario: an image under a variant's condition, on one TLS version and suite."""

    image: str
    variant: Variant                # whose condition it runs under
    tls: str
    suite: str

    @property
    def expected(self) -> str:
        return self.variant.expected if self.image == self.variant.name else "none"

    @property
    def label(self) -> str:
        return f"{self.image} TLS {self.tls} {self.suite} POST {self.variant.size}, {self.variant.condition.name}"

    def case(self, seed: int = 1):
        return post_case(str(image_path(self.image)), self.tls, self.suite, self.variant.size,
                         self.variant.condition.key, seed=seed)


def variant(name: str) -> Variant:
    for v in VARIANTS:
        if v.name == name:
            return v
    raise ScenarioError(f"no gallery variant {name!r}; the gallery has {', '.join(v.name for v in VARIANTS)}")


def gallery_runs(names: tuple[str, ...] = (), *, matrix: bool = False, with_fixed: bool = True) -> list[GalleryRun]:
    """Each variant (all, or those named) on its representative suite - or, with `matrix`, on every
    suite of the report's matrix its condition applies to - and `fixed` under the same condition."""
    out: list[GalleryRun] = []
    for v in ([variant(n) for n in names] if names else VARIANTS):
        suites = [s for s in REPORT_MATRIX if v.condition.applies(*s)] if matrix else [v.suite]
        for tls, suite in suites:
            out.append(GalleryRun(v.name, v, tls, suite))
            if with_fixed:
                out.append(GalleryRun(FIXED, v, tls, suite))
    return out


@dataclass
class GalleryResult:
    run: GalleryRun
    diagnosed: object               # sim.diagnosis.Diagnosed

    @property
    def diagnosed_class(self) -> str:
        return self.diagnosed.cause.key

    @property
    def correct(self) -> bool:
        return self.diagnosed_class == self.run.expected


@dataclass
class Gallery:
    results: list[GalleryResult] = field(default_factory=list)

    def table(self) -> dict[str, Counter]:
        rows: dict[str, Counter] = {}
        for r in self.results:
            rows.setdefault(r.run.image, Counter())[r.diagnosed_class] += 1
        return rows

    @property
    def diagonal(self) -> bool:
        return all(r.correct for r in self.results)


def run_gallery(runs: list[GalleryRun], *, provenance: str = "auto", out_dir: str | Path | None = None,
                progress: Callable[[str], None] | None = None) -> Gallery:
    from sim.diagnosis import run_case

    gallery = Gallery()
    for n, run in enumerate(runs, 1):
        if progress is not None:
            progress(f"[{n}/{len(runs)}] {run.label}")
        out = None
        if out_dir is not None:
            out = Path(out_dir) / f"{n:02d}-{run.image}-{run.tls}-{run.suite}".replace("/", "_")
            out.mkdir(parents=True, exist_ok=True)
        gallery.results.append(GalleryResult(run, run_case(run.case(), provenance=provenance, out_dir=out)))
    return gallery


def confusion_table(gallery: Gallery) -> str:
    """Variant (rows) against diagnosed class (columns), with the expected class of each row."""
    from sim.diagnosis import CLASSES

    rows = gallery.table()
    expected = {r.run.image: r.run.expected for r in gallery.results}
    seen = {k for counts in rows.values() for k in counts} | set(expected.values())
    columns = [c.key for c in CLASSES if c.key in seen]
    width = max(len(name) for name in rows) if rows else 8
    header = f"{'variant':<{width}}  {'expected':<24}  " + "  ".join(f"{c:>{max(len(c), 3)}}" for c in columns)
    lines = [header, "-" * len(header)]
    for name, counts in rows.items():
        cells = "  ".join(f"{counts.get(c, 0) or '.':>{max(len(c), 3)}}" for c in columns)
        lines.append(f"{name:<{width}}  {expected[name]:<24}  {cells}")
    lines.append("")
    lines.append("diagonal: every run diagnosed as its variant's class" if gallery.diagonal else
                 "NOT diagonal: " + "; ".join(f"{r.run.label} -> {r.diagnosed_class} (expected {r.run.expected})"
                                              for r in gallery.results if not r.correct))
    return "\n".join(lines) + "\n"
