"""Safe to publish: signed C2PA manifests on generated files (provenance, signing, notes), robust fingerprints
in each run's generation log (fingerprints, log, publish) that `genforge verify` reads (verify), guards that hold
back near copies and what a modality screens out (guard), and a model card per run (card)."""
