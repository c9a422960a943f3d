//! The published stacked model: the base models and the meta-model in one safetensors object
//! (`base0.*`, `base1.*`, ... and `meta.*`, each a model as its [`faasml_ml::Persist`] stores
//! it), and how it scores rows: every base model scores them, the meta-model turns those
//! scores into the probability of class 1.

use faasml_ml::model_selection;
use faasml_ml::{
    Algorithm, Matrix, MatrixView, MlError, Model, ModelTensors, Persist, Predict, Prediction,
};

/// A fitted stacking ensemble.
#[derive(Debug)]
pub struct StackedModel {
    /// The base models, in trainer order (the meta-model's feature order).
    pub bases: Vec<Box<dyn Model>>,
    /// The meta-model over the base models' scores.
    pub meta: Box<dyn Model>,
}

impl StackedModel {
    /// The probability of class 1 for each row of `x`.
    pub fn score(&self, x: MatrixView<'_>) -> faasml_ml::Result<Vec<f64>> {
        let n = x.rows();
        let columns = self
            .bases
            .iter()
            .map(|b| model_selection::score(&b.predict(x)?))
            .collect::<faasml_ml::Result<Vec<_>>>()?;
        if let Some(c) = columns.iter().find(|c| c.len() != n) {
            return Err(MlError::ShapeMismatch {
                what: "base model scores".into(),
                expected: n,
                got: c.len(),
            });
        }
        let meta_x = Matrix::new(n, columns.len(), super::table::interleave(&columns, n))?;
        model_selection::score(&self.meta.predict(meta_x.view())?)
    }
}

impl Predict for StackedModel {
    fn n_features(&self) -> usize {
        self.bases.first().map_or(0, |b| b.n_features())
    }

    /// Class probabilities (two columns).
    fn predict(&self, x: MatrixView<'_>) -> faasml_ml::Result<Prediction> {
        let p1 = self.score(x)?;
        let mut proba = Vec::with_capacity(p1.len() * 2);
        for p in p1 {
            proba.extend([(1.0 - p) as f32, p as f32]);
        }
        Ok(Prediction::Proba(Matrix::new(proba.len() / 2, 2, proba)?))
    }
}

impl Persist for StackedModel {
    const KIND: &'static str = "stacking";

    fn to_tensors(&self) -> ModelTensors {
        let mut t = ModelTensors::new(Self::KIND);
        t.set_meta("n_base", self.bases.len().to_string());
        for (i, base) in self.bases.iter().enumerate() {
            t.insert_nested(&format!("base{i}"), base.to_tensors());
        }
        t.insert_nested("meta", self.meta.to_tensors());
        t
    }

    fn from_tensors(t: &ModelTensors) -> faasml_ml::Result<Self> {
        t.check_kind(Self::KIND)?;
        let corrupt = |m: String| MlError::CorruptModel(m);
        let n_base: usize = t
            .meta_str("n_base")?
            .parse()
            .map_err(|_| corrupt("n_base is not a number".into()))?;
        // Never trust the stored count: every base model must be present.
        let prefixes = t.nested_prefixes();
        if n_base == 0 || n_base > prefixes.len() {
            return Err(corrupt(format!(
                "n_base is {n_base}, but the model holds {} nested models",
                prefixes.len()
            )));
        }
        let mut bases = Vec::with_capacity(n_base);
        for i in 0..n_base {
            let name = format!("base{i}");
            if !prefixes.contains(&name) {
                return Err(corrupt(format!("base model {i} is missing")));
            }
            let base = Algorithm::load(&t.nested(&name))
                .map_err(|e| corrupt(format!("base model {i}: {e}")))?;
            bases.push(base);
        }
        let width = bases[0].n_features();
        if let Some((i, b)) = bases
            .iter()
            .enumerate()
            .find(|(_, b)| b.n_features() != width)
        {
            return Err(corrupt(format!(
                "base model {i} takes {} features, base model 0 takes {width}",
                b.n_features()
            )));
        }
        let meta =
            Algorithm::load(&t.nested("meta")).map_err(|e| corrupt(format!("meta-model: {e}")))?;
        if meta.n_features() != n_base {
            return Err(corrupt(format!(
                "the meta-model takes {} features for {n_base} base models",
                meta.n_features()
            )));
        }
        Ok(Self { bases, meta })
    }
}
