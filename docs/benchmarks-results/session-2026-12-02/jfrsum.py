import json,glob,sys,datetime
def t(s): return datetime.datetime.fromisoformat(s.replace('Z','+00:00')[:26]+'+00:00') if False else s
for f in sorted(glob.glob('/dev/shm/mf/*.jfr.json')):
    d=json.load(open(f)); ev=d['recording']['events']
    start=None; end=None
    for e in ev:
        if e['type']=='jdk.ThreadStart':
            n=e['values']['thread']['javaName'] if e['values'].get('thread') else ''
            if n in ('migration','incoming'): start = max(start or '', e['values']['startTime'])
        if e['type']=='jdk.ThreadEnd':
            n=e['values']['thread']['javaName'] if e['values'].get('thread') else ''
            if n in ('migration','incoming'): end=e['values']['startTime']
    rows=[]
    for e in ev:
        if e['type']!='jdk.Compilation': continue
        v=e['values']; m=v['method']; name=m['type']['name'].split('/')[-1]+'::'+m['name']
        dur=v['duration']; s=float(dur[2:-1]) if dur.endswith('S') else 0
        rows.append((v['startTime'], s, v['compileLevel'], 'osr' if v['isOsr'] else '', name, v.get('inlinedBytes')))
    rows.sort()
    during=[r for r in rows if start and r[0]>=start and (end is None or r[0]<=end)]
    before=[r for r in rows if start and r[0]<start and r[0][:19] >= start[:17]]
    c2=[r for r in during if r[2]==4]
    print('==',f,'start',start,'end',end,'C2 during: n',len(c2),'ms',round(sum(r[1] for r in c2)*1000),'C1 ms',round(sum(r[1] for r in during if r[2]<4)*1000))
    for r in sorted(c2,key=lambda r:-r[1])[:int(sys.argv[1]) if len(sys.argv)>1 else 8]: print('   ',r[0][11:23], round(r[1]*1000,1), r[3], r[4], r[5])
