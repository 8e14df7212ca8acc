"""Rule evaluation cost on Debian's Prometheus, and the tiled SLO windows' equivalence with raw rate().

    python -m tools.rulebench prepare --out DIR [--services 200] [--days 3]
        N services' traffic, backfilled with promtool (about an hour for 200 services on 2 cores),
        a 1-day copy of it, the SLO events recorded over both, both compacted.
    python -m tools.rulebench measure --out DIR [--services 9,50,200] [--project CHECKOUT] [--label after]
        Each history and service count in turn: rule groups rendered by CHECKOUT (default: this one).
    python -m tools.rulebench equivalence [--days 10]
        The equivalence tables in docs/rule-cost.md: tiled windows against raw rate(), evaluation by
        evaluation, with one pod and with pods replaced (series born and ending inside tiles).

Results of `measure` are appended to DIR/results.jsonl; docs/rule-cost.md holds the measured table.
"""

from __future__ import annotations

import argparse
import json
import sys
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
if __package__ in (None, ""):
    sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "instrumentation" / "src"))

from components.conventions import SLO_EVENT_WINDOWS, record_slo_events  # noqa: E402
from tools.detection import reference_service  # noqa: E402
from tools.rulebench import backfill, equivalence, live, measure  # noqa: E402

HISTORIES = {"3d": "raw", "1d": "raw-1d"}


def _prepare_one(out: Path, name: str, end_s: int) -> str:
    data = out / name
    first = min(json.loads((b / "meta.json").read_text())["minTime"] for b in data.iterdir() if (b / "meta.json").exists())
    # The page's windows are never read at an offset: only what the tiles read is backfilled.
    skip = {record_slo_events(window) for window in SLO_EVENT_WINDOWS}
    for group in backfill.slo_groups():
        backfill.record_events(group, first // 1000, end_s, data, skip)
    return f"{name}: SLO events recorded; {backfill.compact(data)} blocks after compaction"


def prepare(out: Path, services: int, days: float, ahead_hours: float, histories: list[str]) -> None:
    if not (out / "history.json").exists():
        backfill.write_history(backfill.plan(services, days, ahead_hours), out)
    history = backfill.History.load(out)
    if not (out / HISTORIES["1d"]).exists():
        backfill.keep_last(out / HISTORIES["3d"], out / HISTORIES["1d"], 1)
    # One core each: both histories are recorded and compacted side by side.
    with ProcessPoolExecutor(max_workers=2) as pool:
        names = [HISTORIES[h] for h in histories]
        for line in pool.map(_prepare_one, [out] * len(names), names, [history.end_s] * len(names)):
            print(line, flush=True)


def _labelled(text: str) -> tuple[str, Path]:
    label, _, path = text.partition("=")
    return label, Path(path).resolve()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("prepare")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--services", type=int, default=200)
    p.add_argument("--days", type=float, default=3)
    p.add_argument("--ahead-hours", type=float, default=5, help="history past now, so every window ending now is full while measuring")
    p.add_argument("--histories", default="3d,1d", help="which TSDBs to record the SLO events in (again, after the rules change)")
    m = commands.add_parser("measure")
    m.add_argument("--out", type=Path, required=True)
    m.add_argument("--services", default="9,50,200")
    m.add_argument("--histories", default="1d,3d")
    m.add_argument("--project", type=Path, default=ROOT)
    m.add_argument("--label", default="after")
    m.add_argument(
        "--compare",
        action="append",
        default=[],
        metavar="LABEL=CHECKOUT",
        help="also the rules of CHECKOUT, in the same server, side by side",
    )
    m.add_argument("--cycles", type=int, default=3)
    m.add_argument("--per-rule", action="store_true", help="also print each rule's ms per service per cycle")
    live_ = commands.add_parser("live")
    live_.add_argument("--services", default="9,50")
    live_.add_argument("--project", type=Path, default=ROOT)
    live_.add_argument("--label", default="after")
    live_.add_argument("--compare", action="append", default=[], metavar="LABEL=CHECKOUT")
    live_.add_argument("--minutes", type=float, default=32, help="scraping before measuring: the longest raw window must fill")
    live_.add_argument("--out", type=Path, help="append the results to OUT/results.jsonl")
    live_.add_argument(
        "--history", type=Path, metavar="DIR", help="start on the last day of `prepare --out DIR`'s history, extended to now (tiles read real history)"
    )
    e = commands.add_parser("equivalence")
    e.add_argument("--days", type=float, default=10)
    args = parser.parse_args(argv)

    if args.command == "prepare":
        prepare(args.out, args.services, args.days, args.ahead_hours, args.histories.split(","))
    elif args.command == "measure":
        print("| rules | history | services | groups | rules | ms / service / cycle | slowest group ms | share of 30s | missed | RSS MiB |")
        print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        for history in args.histories.split(","):
            for count in (int(n) for n in args.services.split(",")):
                projects = {args.label: args.project.resolve(), **dict(_labelled(c) for c in args.compare)}
                results = measure.measure(args.out / HISTORIES[history], count, projects, cycles=args.cycles)
                for label, r in results.items():
                    with (args.out / "results.jsonl").open("a") as log:
                        log.write(
                            json.dumps({"label": label, "history": history, "alongside": sorted(set(projects) - {label}), **asdict(r)})
                            + "\n"
                        )
                    print(
                        f"| {label} | {history} | {r.services} | {r.groups} | {r.rules} | {r.ms_per_service:.1f} | "
                        f"{r.slowest_group_ms:.0f} | {r.cycle_share:.0%} | {r.missed_iterations} | {r.rss_mib:.0f} |",
                        flush=True,
                    )
                    if args.per_rule:
                        for rule, ms in r.by_rule.items():
                            print(f"|   | {rule} | {ms:.2f} ms |", flush=True)
    elif args.command == "live":
        print("| rules | data | services | groups | rules | ms / service / cycle | slowest group ms | share of 30s | missed | RSS MiB |")
        print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        for count in (int(n) for n in args.services.split(",")):
            projects = {args.label: args.project.resolve(), **dict(_labelled(c) for c in args.compare)}
            for label, r in live.measure_live(count, projects, fill_s=args.minutes * 60, history=args.history).items():
                if args.out:
                    with (args.out / "results.jsonl").open("a") as log:
                        log.write(json.dumps({"label": label, "history": "live+1d" if args.history else "live", "alongside": sorted(set(projects) - {label}), **asdict(r)}) + "\n")
                print(
                    f"| {label} | {'live head, 1d of tiles' if args.history else 'live head'} | {r.services} | {r.groups} | {r.rules} | {r.ms_per_service:.1f} | "
                    f"{r.slowest_group_ms:.0f} | {r.cycle_share:.0%} | - | {r.rss_mib:.0f} |",
                    flush=True,
                )
                for rule, ms in r.by_rule.items():
                    print(f"|   | {rule} | {ms:.2f} ms |", flush=True)
    else:
        for title, lifetime in (("One pod", None), (f"Pods replaced every {equivalence.POD_LIFETIME_S} s", equivalence.POD_LIFETIME_S)):
            print(
                f"{title}:\n\n{equivalence.markdown(equivalence.compare(reference_service(), days=args.days, pod_lifetime_s=lifetime))}\n"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
