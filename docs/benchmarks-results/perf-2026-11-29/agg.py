import json, sys, glob, statistics as st
# usage: agg.py label=glob ... ; QEMU runs are taken from every file that has them
cfg = [a.split("=", 1) for a in sys.argv[1:]]
data = {}  # (label, scenario) -> list of runs
lb = {}
for label, pat in cfg:
    for f in sorted(glob.glob(pat)):
        d = json.load(open(f)); size = d["guest_ram_bytes"]
        for s in d["scenarios"]:
            c = s["content"]
            lb.setdefault(c, []).extend(s["loopback_bytes_per_s"])
            for impl in ("livemig", "qemu", "QEMU"):
                if impl in s:
                    key = label if impl == "livemig" else "QEMU"
                    data.setdefault((key, c), []).extend(r | {"size": size} for r in s[impl]["runs"] if r["ok"])
def fmt(v, p=3):
    return f"{v:.0f}" if abs(v) >= 100 else f"{v:.{p}g}"
def summ(vals, p=3):
    if not vals: return "-"
    return f"{fmt(st.median(vals), p)} [{fmt(min(vals), p)}–{fmt(max(vals), p)}]"
labels = [l for l, _ in cfg] + ["QEMU"]
for c in ("random", "zero", "mixed"):
    if c not in lb: continue
    print(f"\n### {c}  (loopback ceiling median {st.median(lb[c])/1e6:.0f} MB/s [{min(lb[c])/1e6:.0f}–{max(lb[c])/1e6:.0f}], n={len(lb[c])})")
    print("| figure | " + " | ".join(f"{l} (n={len(data.get((l, c), []))})" for l in labels) + " |")
    print("|---" * (len(labels) + 1) + "|")
    rows = [("time migrate → dst completed (s)", lambda r: r["seconds"]),
            ("source total-time (ms)", lambda r: r["src_total_ms"]),
            ("downtime (ms)", lambda r: r["downtime_ms"]),
            ("throughput, wire (MB/s)", lambda r: r["wire_bytes"] / r["seconds"] / 1e6),
            ("guest RAM moved (GiB/s)", lambda r: r["size"] / r["seconds"] / 2**30),
            ("CPU source (s/GiB)", lambda r: r["src_cpu_s"] / (r["size"] / 2**30)),
            ("CPU destination (s/GiB)", lambda r: r["dst_cpu_s"] / (r["size"] / 2**30)),
            ("RSS beyond guest, source (MiB)", lambda r: (r["src_peak_rss_bytes"] - r["size"]) / 2**20),
            ("RSS beyond guest, dst (MiB)", lambda r: (r["dst_peak_rss_bytes"] - r["size"]) / 2**20)]
    for name, f in rows:
        print(f"| {name} | " + " | ".join(summ([f(r) for r in data.get((l, c), [])]) for l in labels) + " |")
    m = {l: st.median([r["wire_bytes"] / r["seconds"] for r in data.get((l, c), [])] or [0]) for l in labels}
    q = st.median([r["seconds"] for r in data.get(("QEMU", c), [])] or [0])
    print("| throughput ÷ loopback (medians) | " + " | ".join(f"{100*m[l]/st.median(lb[c]):.0f} %" for l in labels) + " |")
    print("| time ÷ QEMU time (medians) | " + " | ".join((f"{st.median([r['seconds'] for r in data[(l, c)]])/q:.2f}" if q and data.get((l, c)) else "-") for l in labels) + " |")
