//! The bundled sentiment corpora: each catalogue entry matches its file (rows, classes, columns),
//! and an unknown name lists the known ones.

use faasml_datasets::bundled::{BundledCorpus, corpora, lookup_corpus};
use faasml_datasets::idx::gunzip_if_needed;
use faasml_datasets::text_table::read_text_table;

#[test]
fn every_bundled_corpus_matches_its_catalogue_entry() {
    for corpus in corpora() {
        let bytes = corpus.read().unwrap();
        let csv = gunzip_if_needed(&bytes).unwrap();
        let table = read_text_table(&csv[..], BundledCorpus::TEXT, BundledCorpus::LABEL).unwrap();
        assert_eq!(table.texts.len(), corpus.rows, "{}", corpus.name);
        let mut seen = vec![0usize; corpus.classes];
        for &label in &table.labels {
            assert!(label.fract() == 0.0 && (label as usize) < corpus.classes);
            seen[label as usize] += 1;
        }
        assert!(seen.iter().all(|&n| n > 0), "{}: {seen:?}", corpus.name);
    }
    let vader = lookup_corpus("vader").unwrap();
    assert_eq!(vader.file, "vader_sentiment.csv.gz");
    let e = lookup_corpus("imdb").unwrap_err().to_string();
    assert!(
        e.contains("imdb") && e.contains("vader, rt, crowdflower"),
        "{e}"
    );
}
