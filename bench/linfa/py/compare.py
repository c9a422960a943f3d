# correctness of linfa vs ../../data/reference/classic-ml.json (+ sklearn same-objective SVR)
import json, numpy as np, sys
from sklearn.svm import SVR
ref = json.load(open('../../data/reference/classic-ml.json'))['cases']
lf = json.load(open('out/linfa_correct.json'))
def rel(a, b):
    a, b = np.asarray(a, float), np.asarray(b, float)
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))
def relel(a, b):  # per-element relative, zeros in ref skipped
    a, b = np.asarray(a, float), np.asarray(b, float); m = np.abs(b) > 1e-12
    return float(np.max(np.abs(a[m] - b[m]) / np.abs(b[m])))
out = {}
for k in ['lasso_diabetes_std', 'linear_svr_diabetes_std', 'logistic_breast_cancer_std']:
    r, l = ref[k], lf[k]
    out[k] = dict(coef_max_rel_err_elementwise=relel(l['coef'], r['coef']),
                  coef_max_abs_err_over_max_abs_coef=rel(l['coef'], r['coef']),
                  intercept_rel_err=abs(l['intercept'] - r['intercept']) / abs(r['intercept']),
                  linfa_coef=l['coef'], linfa_intercept=l['intercept'])
l = lf['lasso_diabetes_std_tol1e-10']; r = ref['lasso_diabetes_std']
out['lasso_diabetes_std_linfa_tol1e-10'] = dict(coef_max_rel_err_elementwise=relel(l['coef'], r['coef']),
    coef_max_abs_err_over_max_abs_coef=rel(l['coef'], r['coef']), intercept_rel_err=abs(l['intercept'] - r['intercept']) / abs(r['intercept']))
from sklearn.linear_model import Lasso
_d = np.loadtxt('../../data/tabular/diabetes.csv', delimiter=',', skiprows=1); _X = (_d[:, :-1] - _d[:, :-1].mean(0)) / _d[:, :-1].std(0)
_c = Lasso(alpha=0.1).fit(_X, _d[:, -1]).coef_
out['lasso_sklearn_default_tol_vs_reference'] = dict(coef_max_rel_err_elementwise=relel(_c, r['coef']))
out['lasso_linfa_vs_sklearn_same_tol1e-4'] = dict(coef_max_rel_err_elementwise=relel(lf['lasso_diabetes_std']['coef'], _c))
for algo in ['linear', 'kdtree', 'balltree']:
    p = lf[f'knn_regressor_diabetes_std_{algo}']['predict_first5']
    out[f'knn_{algo}'] = dict(pred_max_rel_err=relel(p, ref['knn_regressor_diabetes_std']['predict_first5']), linfa=p)
# same objective as linfa's epsilon-SVR (free, unregularised bias): libsvm SVR linear kernel
d = np.loadtxt('../../data/tabular/diabetes.csv', delimiter=',', skiprows=1)
X, y = d[:, :-1], d[:, -1]; X = (X - X.mean(0)) / X.std(0)
s = SVR(kernel='linear', C=1.0, epsilon=0.0, tol=1e-6, shrinking=False, max_iter=-1).fit(X, y)
l = lf['linear_svr_diabetes_std']
out['svr_vs_libsvm_SVR_linear_same_objective'] = dict(
    coef_max_rel_err_elementwise=relel(l['coef'], s.coef_[0]),
    coef_max_abs_err_over_max_abs_coef=rel(l['coef'], s.coef_[0]),
    intercept_rel_err=abs(l['intercept'] - s.intercept_[0]) / abs(s.intercept_[0]),
    libsvm_coef=s.coef_[0].tolist(), libsvm_intercept=float(s.intercept_[0]))
# objective values (primal) of the two SVR solutions under each objective
def prim(w, b, reg_b):
    return 0.5 * (w @ w + (b * b if reg_b else 0)) + np.abs(y - X @ w - b).sum()
r = ref['linear_svr_diabetes_std']
for name, (w, b) in {'reference_liblinear': (np.array(r['coef']), r['intercept']),
                     'linfa': (np.array(l['coef']), l['intercept']),
                     'libsvm_SVR': (s.coef_[0], s.intercept_[0])}.items():
    out.setdefault('svr_primal_objectives', {})[name] = dict(
        free_bias=float(prim(w, b, False)), regularised_bias=float(prim(w, b, True)),
        mean_abs_err_train=float(np.abs(y - X @ w - b).mean()))
json.dump(out, open('out/correctness.json', 'w'), indent=1)
print(json.dumps(out, indent=1))
