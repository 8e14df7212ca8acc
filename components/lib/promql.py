"""PromQL builders: every expression the program emits (rules, analysis, dashboards) is built here.

Strings in, strings out, deterministic: matchers keep the order given, values are escaped.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence


def quote(value: str) -> str:
    """A PromQL string literal."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def eq(label: str, value: str) -> str:
    return f"{label}={quote(value)}"


def match(label: str, regex: str) -> str:
    return f"{label}=~{quote(regex)}"


def not_match(label: str, regex: str) -> str:
    return f"{label}!~{quote(regex)}"


def selector(metric: str, matchers: Sequence[str] = ()) -> str:
    return f"{metric}{{{', '.join(matchers)}}}" if matchers else metric


def rate(series: str, window: str, offset: str = "") -> str:
    return f"rate({series}[{window}]{f' offset {offset}' if offset else ''})"


def increase(series: str, window: str) -> str:
    return f"increase({series}[{window}])"


def tile_events(series: str, window_s: int, scrape_s: int) -> str:
    """A tile's events per series, as the whole window's `rate()` counts them.

    A series with a sample in the tile's first scrape interval spans the tile: its events are those
    between its first and last samples, `rate() * (window - scrape)` (rate extrapolates such a series
    to both edges). Summed over tiles that share their boundary sample, these add up to the samples'
    difference over the whole window, which is what a long `rate()` reads between the ends.

    A series born inside the tile (a `status="503"` series at the first 503, a new pod's) has no such
    sample: a long `rate()` extrapolates its start (half an interval, or to the counter's zero point)
    and so must the tile, `increase()`. Scaling it by `window - scrape` as a spanning series would
    under-count it by one scrape interval's share (1.6% of a 30m30s tile), enough to move an alert by
    an evaluation. Ranges are left-open (Prometheus 3), so the first interval is `(t-W, t-W+scrape]`.
    """
    span = window_s - scrape_s
    spans = f"present_over_time({series}[{duration(scrape_s)}] offset {duration(span)})"
    return f"(\n  {rate(series, duration(window_s))} * {span} and {spans}\n  or {increase(series, duration(window_s))}\n)"


def duration(seconds: int) -> str:
    """Whole seconds as a Prometheus duration, largest units first (`7230` -> `2h30s`, `86400` -> `1d`)."""
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size:
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
    return "".join(parts) or "0s"


def with_labels(expr: str, labels: dict[str, str]) -> str:
    """`expr` with each label set to a fixed value (label_replace with an empty regex, which matches every series)."""
    for name, value in labels.items():
        expr = f'label_replace({expr}, {quote(name)}, {quote(value)}, "", "")'
    return expr


def by(labels: Iterable[str]) -> str:
    return f" by ({', '.join(labels)})" if labels else ""


def sum_by(expr: str, labels: Sequence[str] = ()) -> str:
    return f"sum{by(labels)} ({expr})"


def le(seconds: float) -> str:
    """A classic-histogram bucket bound as Prometheus 3 stores it: `1` becomes `1.0`, `0.5` stays.

    Prometheus 3 normalises `le` on ingestion (and prometheus_client already exposes floats this
    way), so a matcher written `le="1"` would silently match nothing.
    """
    if seconds == float("inf"):
        return "+Inf"
    return repr(float(seconds))


def rate_or_zero(numerator: str, denominator: str, window: str, labels: Sequence[str], offset: str = "") -> str:
    """`sum(rate(numerator))`, or 0 for every group that has `denominator` traffic but no numerator series.

    Client libraries create a `status="500"` series only at the first error: without the `or`, a
    version that never failed has no error rate at all, and every ratio built on it is empty.
    """
    return f"({sum_by(rate(numerator, window, offset), labels)} or {sum_by(rate(denominator, window, offset), labels)} * 0)"


def ratio(numerator: str, denominator: str) -> str:
    """numerator / denominator; with no traffic both are 0 and the result is NaN, which compares
    false with every threshold, so an idle service neither fires nor passes as healthy by accident."""
    return f"({numerator})\n/\n({denominator})"


def histogram_quantile(quantile: float, histogram: str, window: str, matchers: Sequence[str], labels: Sequence[str]) -> str:
    """The `quantile` of a classic histogram named `histogram` (its `_bucket` series)."""
    buckets = sum_by(rate(selector(f"{histogram}_bucket", matchers), window), [*labels, "le"])
    return f"histogram_quantile({quantile:g}, {buckets})"


def error_ratio(requests_metric: str, window: str, matchers: Sequence[str], labels: Sequence[str]) -> str:
    """Share of requests answered 5xx: 0 with traffic and no 5xx series yet, NaN with no traffic."""
    requests = selector(requests_metric, matchers)
    errors = rate_or_zero(selector(requests_metric, [*matchers, match("status", "5..")]), requests, window, labels)
    return ratio(errors, sum_by(rate(requests, window), labels))
