#!/usr/bin/env python3
# Moves test/edge and test/cli into sub-folders mirroring src/edge and src/cli, with git mv, rewriting specifiers and path mentions.
# relative import specifier and path mention that pointed at an old place. Run once from the repo root.
import os, re, subprocess, sys
MOVES = {}  # old repo path -> new repo path
EDGE = {}
for folder in ('viewers', 'pipeline', 'snapshot', 'runtime'):
    for f in os.listdir(f'src/edge/{folder}'):
        EDGE[f[:-3]] = folder
for f in os.listdir('test/edge'):
    n = f.split('.')[0]
    if n in EDGE: MOVES[f'test/edge/{f}'] = f'test/edge/{EDGE[n]}/{f}'
# Tests named for what they prove rather than one source file.
for n, folder in {'ca-publication-watch': 'runtime', 'ca-rollover-fleet-gate': 'runtime', 'many-distributions': 'snapshot'}.items():
    if os.path.exists(f'test/edge/{n}.test.ts'): MOVES[f'test/edge/{n}.test.ts'] = f'test/edge/{folder}/{n}.test.ts'
CLI = {
 'run': 'crash-rotation demo-command edge-runtime start-command start-imports supervisor-packaging supervisor-signals worker-messages workers-access-file workers-cache-coherence workers-drain workers-rotation workers',
 'over-api': 'admin-api-pki-edge api-cli-edge-contract api-cli-edge-postgres api-cli-edge-sqlite api-commands api-connection api-pki-commands-contract api-pki-commands-postgres api-pki-commands-sqlite fleet-edges-contract fleet-edges-postgres fleet-edges-sqlite fleet-rotation-sqlite',
 'local': 'admin-token-commands audit-command ca-command ca-rotate-command certs-command config-check-imports config-check-trust-stores doctor-command enrol-command fleet-join-postgres guard-command revoke-command store-certificate-records store-edge-contract store-edge-postgres store-edge-sqlite store-fleet-postgres',
}
for folder, names in CLI.items():
    for n in names.split():
        for f in (f'{n}.test.ts', f'{n}.ts'):
            if os.path.exists(f'test/cli/{f}'): MOVES[f'test/cli/{f}'] = f'test/cli/{folder}/{f}'
check = '--check' in sys.argv
CODE_DIRS = ['src', 'test', 'bench', 'scripts']
TEXT_DIRS = ['docs', 'packaging', '.ci', 'README.md', 'bench', 'src', 'test', 'scripts', 'package.json']
def files(roots, exts):
    for r in roots:
        if os.path.isfile(r): yield r; continue
        for d, subdirs, fs in os.walk(r):
            subdirs[:] = [s for s in subdirs if s not in ('node_modules', 'dist', '.git')]
            for f in fs:
                if f.endswith(exts): yield os.path.join(d, f)
SPEC = re.compile(r"""((?:from|import|new URL)\s*\(?\s*['"])(\.{1,2}/[^'"]+)(['"])""")
def rewrite_code(path, old_self):
    src = open(path).read()
    def fix(m):
        target = os.path.normpath(os.path.join(os.path.dirname(old_self), m.group(2)))
        new_target = MOVES.get(target, target)
        new_self = MOVES.get(old_self, old_self)
        rel = os.path.relpath(new_target, os.path.dirname(new_self))
        if not rel.startswith('.'): rel = './' + rel
        return m.group(1) + rel + m.group(3)
    out = SPEC.sub(fix, src)
    return src, out
if check:
    left = []
    for p in files(TEXT_DIRS, ('.ts', '.tsx', '.js', '.mjs', '.md', '.json', '.yml', '.yaml', '.sh', 'Dockerfile', '.service')):
        t = open(p, errors='replace').read()
        for old in MOVES:
            if re.search(re.escape(old) + r'(?![\w-])', t): left.append(f'{p}: {old}')
    print('\n'.join(left) or 'no old paths left'); sys.exit(1 if left else 0)
# 1. rewrite specifiers (computed against the old layout), 2. git mv, 3. path mentions
pending = {}
for p in files(CODE_DIRS, ('.ts', '.tsx', '.js', '.mjs')):
    p = os.path.normpath(p)
    before, after = rewrite_code(p, p)
    if before != after or p in MOVES: pending[p] = after
for old, new in MOVES.items():
    os.makedirs(os.path.dirname(new), exist_ok=True)
    subprocess.run(['git', 'mv', old, new], check=True)
for p, text in pending.items():
    open(MOVES.get(p, p), 'w').write(text)
for p in files(TEXT_DIRS, ('.ts', '.tsx', '.js', '.mjs', '.md', '.json', '.yml', '.yaml', '.sh', 'Dockerfile', '.service')):
    t = open(p, errors='replace').read(); o = t
    for old, new in MOVES.items():
        t = re.sub(re.escape(old) + r'(?![\w-])', new, t)
    if t != o: open(p, 'w').write(t)
