#!/usr/bin/env python3
# Moves src/edge's files into sub-folders that name their parts, with git mv, and rewrites every
# relative import specifier and path mention that pointed at an old place. Run once from the repo root.
import os, re, subprocess, sys
GROUPS = {
 'viewers': 'viewer-listener viewer-connection-check viewer-meter viewer-mtls-listener viewer-h2-limits viewer-h2-response viewer-h2-stream viewer-gone upgrade-request websocket-forward websocket-tunnel redirect-listener serve-viewers ticket-keys',
 'pipeline': 'proxy-request request-target behavior-router alias-index forwarded-headers viewer-cert-headers viewer-header-names viewer-request error-response moat-error-values cache-stage cache-status-name safe-method-body request-id access-line-fields',
 'snapshot': 'build-snapshot edge-snapshot build-each credentials certificates-in-use imported-checks configured-files-watch snapshot-memo origin-entries viewer-mtls-snapshot',
 'runtime': 'run-edge ca-rotation-watch rotation-request-watch revocation-watch renewal-scheduler idle-memory expiry-warnings',
}
MOVES = {}  # old repo path -> new repo path
for folder, names in GROUPS.items():
    for n in names.split():
        MOVES[f'src/edge/{n}.ts'] = f'src/edge/{folder}/{n}.ts'
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
