# max |linfa OOF - sklearn OOF| on the speed data (consistency check; SVR objectives differ)
import numpy as np, glob, os, re
for f in sorted(glob.glob('out/linfa_oof_*.bin')):
    m = re.match(r'linfa_oof_(\w+?)_(\w+)_(\d+)\.bin', os.path.basename(f)); model, algo, S = m.groups()
    sk = f'out/sk_oof_{model}_{S}.bin'
    if not os.path.exists(sk): continue
    a, b = np.fromfile(f), np.fromfile(sk)
    print(f'OOFDIFF {model} {algo} S={S} max_abs_diff={np.max(np.abs(a-b)):.3e} max_abs_sklearn={np.max(np.abs(b)):.3e}')
