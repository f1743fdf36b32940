# measurement harness used for docs/benchmarks.md (2026-12-01 evening); run from the repo root after a build
import socket, subprocess, time, os, glob, sys
JAVA = glob.glob('/usr/lib/jvm/*25*/bin/java')[0]
JAR = './livemig-cli/target/livemig.jar'; AOT = './livemig-cli/target/livemig.aot'
def run(warm):
    sock = '/dev/shm/mf/st.sock'
    if os.path.exists(sock): os.unlink(sock)
    t0 = time.time()
    p = subprocess.Popen([JAVA, '--enable-native-access=ALL-UNNAMED', f'-XX:AOTCache={AOT}', '-jar', JAR, 'vm', '-m', '64M', '-S',
        '-x-warmup', warm, '-qmp', f'unix:{sock},server=on,wait=off'], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while True:
        try:
            s = socket.socket(socket.AF_UNIX); s.connect(sock); s.recv(100); break
        except Exception: time.sleep(0.005)
    t1 = time.time()
    parts = open(f'/proc/{p.pid}/stat').read().split(')')[1].split()
    cpu = (int(parts[11]) + int(parts[12])) / 100
    p.kill(); p.wait()
    return t1 - t0, cpu
for i in range(3):
    for w in ('on', 'off'):
        print(w, '%.2f s, %.2f CPU-s' % run(w))
