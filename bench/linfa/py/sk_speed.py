# usage: sk_speed.py model S mode reps  -> prints RESULT line, writes OOF preds
import sys, time, numpy as np
from sklearn.svm import LinearSVR
from sklearn.linear_model import Lasso, LogisticRegression
from sklearn.neighbors import KNeighborsRegressor
from sklearn.model_selection import KFold
model, S, mode, reps = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
X = np.fromfile(f'data/X_{S}.bin', dtype='<f8').reshape(S, 1024)
y = np.fromfile(f'data/y_{S}.bin', dtype='<f8')
def make():
    return {'lasso': lambda: Lasso(alpha=0.1),
            'svr': lambda: LinearSVR(C=1.0, epsilon=0.0, loss='epsilon_insensitive', tol=1e-6, max_iter=1000),
            'knn': lambda: KNeighborsRegressor(n_neighbors=20),
            'logistic': lambda: LogisticRegression(C=1.0)}[model]()
yt = y.astype(int) if model == 'logistic' else y
def fp(tr, te):
    m = make().fit(X[tr], yt[tr])
    return m.predict_proba(X[te])[:, 1] if model == 'logistic' else m.predict(X[te])
import warnings; warnings.simplefilter('ignore')
times = []; oof = None
for r in range(reps):
    t = time.perf_counter()
    if mode == 'fit':
        make().fit(X, yt)
    else:
        oof = np.empty(S)
        for tr, te in KFold(5).split(X):
            oof[te] = fp(tr, te)
    dt = time.perf_counter() - t
    print(f'  run {model} S={S} {mode}: {dt:.4f} s', file=sys.stderr)
    times.append(dt)
    if dt > 60: break
print(f'RESULT sklearn {model} S={S} {mode} median_s={np.median(sorted(times)[:len(times)]) if len(times)%2 else sorted(times)[len(times)//2]:.5f} runs={len(times)}')
if oof is not None:
    oof.astype('<f8').tofile(f'out/sk_oof_{model}_{S}.bin')
