# measurement harness used for docs/benchmarks.md (2026-12-01 evening); run from the repo root after a build
# since 2026-12-02: CONTENT=zero|mixed (default random) selects the source RAM content
import socket, json, subprocess, time, os, sys, glob
JAVA = glob.glob('/usr/lib/jvm/*25*/bin/java')[0]
JAR = './livemig-cli/target/livemig.jar'
AOT = './livemig-cli/target/livemig.aot'
D = '/dev/shm/mf'
os.makedirs(D, exist_ok=True)
ch = int(sys.argv[1]) if len(sys.argv) > 1 else 2
def start(tag, incoming):
    ram = f'{D}/{tag}.ram'
    sock = f'{D}/{tag}.sock'
    for p in (sock,):
        if os.path.exists(p): os.unlink(p)
    cmd = [JAVA] + os.environ.get('XOPTS','').split() + ['--enable-native-access=ALL-UNNAMED', f'-XX:AOTCache={AOT}', '-jar', JAR, 'vm', '-machine', 'none,memory-backend=mem0', '-m', '1G',
           '-object', f'memory-backend-file,id=mem0,size=1G,mem-path={ram},share=on,prealloc=on', '-S', '-qmp', f'unix:{sock},server=on,wait=off']
    if incoming: cmd += ['-incoming', 'defer']
    p = subprocess.Popen(cmd, stdout=open(f'{D}/{tag}.log','w'), stderr=subprocess.STDOUT)
    while not os.path.exists(sock): time.sleep(0.05)
    s = socket.socket(socket.AF_UNIX); 
    while True:
        try: s.connect(sock); break
        except Exception: time.sleep(0.05)
    f = s.makefile('rw')
    f.readline()
    q = lambda c, a=None: (f.write(json.dumps({'execute': c, **({'arguments': a} if a else {})})+'\n'), f.flush(), json.loads(f.readline()))[2]
    q('qmp_capabilities')
    return p, q
def threads(pid):
    out = {}
    for t in glob.glob(f'/proc/{pid}/task/*'):
        try:
            st = open(t+'/stat').read(); name = open(t+'/comm').read().strip()
            parts = st[st.rindex(')')+2:].split()
            out[(t.split('/')[-1], name)] = (int(parts[11]), int(parts[12]))
        except Exception: pass
    return out
if os.path.exists(f'{D}/src.ram'): os.unlink(f'{D}/src.ram')
with open(f'{D}/src.ram','wb') as fh:
    c=os.environ.get('CONTENT','random')
    if c=='zero': fh.truncate(1<<30)
    elif c=='mixed':
        import random as _r; _r.seed(1); z=bytes(4096)
        for i in range(262144): fh.write(os.urandom(4096) if _r.random()<0.5 else z)
    else: fh.write(os.urandom(1<<30))
if os.path.exists(f'{D}/dst.ram'): os.unlink(f'{D}/dst.ram')
dp, dq = start('dst', True)
sp, sq = start('src', False)
for q in (dq, sq):
    q('migrate-set-parameters', {'max-bandwidth': 0})
    if ch > 1:
        q('migrate-set-capabilities', {'capabilities': [{'capability': 'multifd', 'state': True}]})
        q('migrate-set-parameters', {'multifd-channels': ch})
print(dq('migrate-incoming', {'uri': 'tcp:127.0.0.1:47777'}))
time.sleep(0.5)
ts0, td0 = threads(sp.pid), threads(dp.pid)
logpos = {t: os.path.getsize(f'{D}/{t}.log') for t in ('src','dst')}
t0 = time.time()
print(sq('migrate', {'uri': 'tcp:127.0.0.1:47777'}))
ts1, td1 = {}, {}
def proc(pid):
    parts = open(f'/proc/{pid}/stat').read().split(')')[1].split()
    return int(parts[11]) + int(parts[12])
ps0, pd0 = proc(sp.pid), proc(dp.pid)
while True:
    ts1.update(threads(sp.pid)); td1.update(threads(dp.pid))
    if dq('query-migrate')['return'].get('status') == 'completed': break
    time.sleep(0.05)
t1 = time.time()
ts1.update(threads(sp.pid)); td1.update(threads(dp.pid))
logend = {t: os.path.getsize(f'{D}/{t}.log') for t in ('src','dst')}
for t in ('src','dst'):
    with open(f'{D}/{t}.log') as fh:
        fh.seek(logpos[t]); open(f'{D}/{t}.during','w').write(fh.read(logend[t]-logpos[t]))
print('process cpu ticks src', proc(sp.pid)-ps0, 'dst', proc(dp.pid)-pd0)
print('wall', round(t1-t0,3), 'src', {k: v for k, v in sq('query-migrate')['return'].items() if k in ('total-time','downtime','setup-time')})
for name, a, b in (('src', ts0, ts1), ('dst', td0, td1)):
    rows = []
    for k, v in b.items():
        u0, s0 = a.get(k, (0,0))
        du, ds = v[0]-u0, v[1]-s0
        if du+ds > 0: rows.append((du+ds, du, ds, k[1]))
    rows.sort(reverse=True)
    print(name, 'total user', sum(r[1] for r in rows), 'sys', sum(r[2] for r in rows), '(ticks of 10ms)')
    for r in rows[:10]: print('   ', r)
for q in (sq, dq):
    try: q('quit')
    except Exception: pass
