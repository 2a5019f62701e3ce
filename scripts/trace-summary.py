#!/usr/bin/env python3
"""Where a Chrome trace's threads spent their time: the busiest (thread, event) pairs, and per rendered frame the
page's style, layout, paint and layerize cost.

    python3 scripts/trace-summary.py bench-results/drag-trace/drag-ddim.json [top (30)]

The trace comes from `npm run bench -- ... --drag --drag-trace <folder>` (src/cli/benchDrag.ts): one file per
previews setting, covering the held part of the drag. Durations are wall time of complete events, so nested
events count in each of their parents too (read a row as "time inside this kind of event").
"""
import collections
import json
import sys

# The main thread's stages of one rendered frame (Chromium's BeginMainFrame and the lifecycle phases in it).
FRAME_STAGES = ('ProxyMain::BeginMainFrame', 'LocalFrameView::RunStyleAndLayoutLifecyclePhases', 'Layout',
                'LocalFrameView::RunPaintLifecyclePhase', 'Layerize', 'EventDispatch')


def main() -> None:
    path = sys.argv[1]
    top = int(sys.argv[2]) if len(sys.argv) > 2 else 30
    with open(path) as f:
        trace = json.load(f)
    events = trace['traceEvents'] if isinstance(trace, dict) else trace
    names = {(e['pid'], e['tid']): e['args']['name'] for e in events
             if e.get('ph') == 'M' and e.get('name') == 'thread_name'}
    total, count = collections.Counter(), collections.Counter()
    for e in events:
        if e.get('ph') == 'X' and 'dur' in e:
            key = (names.get((e['pid'], e['tid']), '?'), e['name'])
            total[key] += e['dur'] / 1000
            count[key] += 1
    print(f'{"ms":>9} {"events":>7}  thread / event')
    for (thread, name), ms in total.most_common(top):
        print(f'{ms:9.1f} {count[(thread, name)]:7d}  {thread} / {name}')
    frames = count[('CrRendererMain', 'ProxyMain::BeginMainFrame')]
    if frames:
        print(f'\nper rendered frame ({frames} frames), main thread:')
        for stage in FRAME_STAGES:
            key = ('CrRendererMain', stage)
            print(f'  {stage:50s} {total[key] / frames:6.2f} ms  ({count[key]} events)')
    layouts = [e['args']['beginData'] for e in events if e.get('name') == 'Layout' and 'beginData' in e.get('args', {})]
    if layouts:
        dirty = sorted(l['dirtyObjects'] for l in layouts)
        print(f'  layout: median {dirty[len(dirty) // 2]} dirty of {layouts[0]["totalObjects"]} layout objects')


if __name__ == '__main__':
    main()
