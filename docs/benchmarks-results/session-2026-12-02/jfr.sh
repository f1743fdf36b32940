#!/usr/bin/env bash
# One migration with JFR compilation, deoptimization and thread events on both sides, then the
# C2 compilations that ran during it (jfrsum.py) and the deoptimizations after it started.
# Usage, from the repo root after a build: CONTENT=zero bash docs/benchmarks-results/session-2026-12-02/jfr.sh CHANNELS
here=$(cd "$(dirname "$0")" && pwd)
rm -f /dev/shm/mf/*.jfr*
XOPTS="-XX:StartFlightRecording=filename=/dev/shm/mf/%p.jfr,settings=$here/compile.jfc" python3 "$here/../session-2026-12-01b/mf.py" "${1:-1}"
sleep 3
. bin/jdk.sh && livemig_use_jdk
for f in /dev/shm/mf/*.jfr; do
  "$JAVA_HOME/bin/jfr" print --json --events jdk.Compilation,jdk.Deoptimization,jdk.ThreadStart,jdk.ThreadEnd "$f" > "$f.json"
done
python3 "$here/jfrsum.py" 12
