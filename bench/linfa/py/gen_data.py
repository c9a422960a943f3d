import numpy as np, sys
from sklearn.datasets import make_classification
for S in (300, 20000):
    X, y = make_classification(n_samples=S, n_features=1024, n_informative=2, n_redundant=0,
                               n_repeated=0, n_clusters_per_class=2, weights=[0.9, 0.1],
                               flip_y=0.1, class_sep=1.0, random_state=42)
    np.ascontiguousarray(X, dtype='<f8').tofile(f'data/X_{S}.bin')
    y.astype('<f8').tofile(f'data/y_{S}.bin')
    print(S, X.shape, y.mean())
