#!/usr/bin/env python3
"""Markdown table of one bin/bench JSON result: median [min-max] per column, ratios on the medians.

usage: table.py RESULT.json [BASE_COLUMN]   (columns are the JSON keys: livemig, qemu, livemig_zstd, ...)
"""
import json
import sys

FIGS = [("seconds", "time migrate → dst completed (s)"), ("downtime_ms", "downtime (ms)"),
        ("wire_mib", "bytes on the wire, source's ram.transferred (MiB)"), ("wire_mb_per_s", "throughput, wire (MB/s)"),
        ("ram_gib_per_s", "guest RAM moved (GiB/s)"), ("src_cpu_s", "CPU source (s)"), ("dst_cpu_s", "CPU destination (s)"),
        ("src_rss_beyond_ram_mib", "RSS beyond guest, source (MiB)"), ("dst_rss_beyond_ram_mib", "RSS beyond guest, dst (MiB)")]


def num(v):
    a = abs(v)
    return f"{v:.0f}" if a >= 100 else f"{v:.1f}" if a >= 10 else f"{v:.2f}" if a >= 1 else f"{v:.3f}"


def main():
    doc = json.load(open(sys.argv[1]))
    print(f"load before {doc['load_before']}, after {doc['load_after']}; {doc['qemu_version'] or ''}")
    for sc in doc["scenarios"]:
        cols = [k for k in sc if isinstance(sc[k], dict) and "summary" in sc[k]]
        lb = sorted(sc["loopback_bytes_per_s"])
        print(f"\n#### {sc['content']} (loopback ceiling median {lb[len(lb) // 2] / 1e6:.0f} MB/s "
              f"[{lb[0] / 1e6:.0f}–{lb[-1] / 1e6:.0f}], n={len(lb)})")
        ok = {c: sum(r["ok"] for r in sc[c]["runs"]) for c in cols}
        print("| figure | " + " | ".join(f"{c} (n={ok[c]})" for c in cols) + " |")
        print("|---" * (len(cols) + 1) + "|")
        for key, title in FIGS:
            cells = []
            for c in cols:
                s = sc[c]["summary"][key]
                cells.append("-" if s["median"] is None else f"{num(s['median'])} [{num(s['min'])}–{num(s['max'])}]")
            print(f"| {title} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
